import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type CfnFunction, Tracing } from 'aws-cdk-lib/aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { applySecurityChecks, formatFindings, synthFindings } from '../../../lib/nag';
import { PowertoolsFunction, type PowertoolsFunctionProps } from '../../../lib/outbox/function';
import { removeTestApps, testApp } from '../support';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  DependsOn?: string[];
};

const ENTRY = 'lambdas/orders/handler.ts';

afterAll(removeTestApps);

/** An app that skips bundling; with `nag`, the AwsSolutions checks run on synth as in bin/app.ts. */
const newApp = (nag = false): App => {
  const app = testApp();
  if (nag) applySecurityChecks(app);
  return app;
};

const build = (props: Partial<PowertoolsFunctionProps> = {}, app = newApp()) => {
  const stack = new Stack(app, 'FunctionTest');
  const fn = new PowertoolsFunction(stack, 'Fn', { entry: ENTRY, serviceName: 'probe', ...props });
  return { app, stack, fn };
};

const idOf = (stack: Stack, construct: { node: { defaultChild?: unknown } }): string =>
  stack.getLogicalId(construct.node.defaultChild as never);

const resourcesOf = (stack: Stack): Record<string, Resource> =>
  Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;

/** Every action and resource the role of `roleId` grants, inline or through attached policies, sorted. */
const grantsOf = (
  resources: Record<string, Resource>,
  roleId: string,
): { action: string; resource: unknown }[] => {
  const inline = (resources[roleId]?.Properties.Policies ?? []) as {
    PolicyDocument: { Statement: Statement[] };
  }[];
  const attached = Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((r) => (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === roleId))
    .map((r) => r.Properties.PolicyDocument as { Statement: Statement[] });
  return [...inline.map((p) => p.PolicyDocument), ...attached]
    .flatMap((document) => document.Statement)
    .flatMap((s) => {
      expect(s.Effect).toBe('Allow');
      return [s.Action]
        .flat()
        .flatMap((action) => [s.Resource].flat().map((resource) => ({ action, resource })));
    })
    .sort((a, b) => a.action.localeCompare(b.action));
};

describe('PowertoolsFunction', () => {
  it('bundles lean: zod tree-shaken, source maps without the sources', () => {
    // Prepare: a real esbuild run, as cdk synth does it.
    const app = testApp({ context: { 'aws:cdk:bundling-stacks': ['**'] } });
    const stack = new Stack(app, 'BundleTest');
    // Act
    const fn = new PowertoolsFunction(stack, 'Relay', {
      entry: 'lambdas/outbox/relay-handler.ts',
      serviceName: 'probe',
    });
    // Assess
    const { s3Key } = stack.resolve((fn.node.defaultChild as CfnFunction).code) as { s3Key: string };
    const bundle = join(app.outdir, `asset.${s3Key.replace(/\.zip$/, '')}`, 'index.mjs');
    // All of zod (every locale, ~440 KB) would take the bundle past 600 KB.
    expect(statSync(bundle).size).toBeLessThan(400 * 1024);
    const map = JSON.parse(readFileSync(`${bundle}.map`, 'utf8')) as { sourcesContent?: unknown };
    expect(map.sourcesContent).toBeUndefined();
  }, 60_000);

  it('runs on its own role, without a managed policy: its own log group and X-Ray, nothing else', () => {
    // Prepare
    const { stack, fn } = build();

    // Act
    const resources = resourcesOf(stack);

    // Assess
    const roleId = idOf(stack, fn.executionRole);
    const fnResource = resources[idOf(stack, fn)];
    expect(fnResource?.Properties.Role).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
    expect(fnResource?.Properties.TracingConfig).toEqual({ Mode: 'Active' });
    expect(fnResource?.Properties.Environment).toEqual({
      Variables: expect.not.objectContaining({ POWERTOOLS_TRACE_ENABLED: expect.anything() }),
    });
    expect(resources[roleId]?.Properties.ManagedPolicyArns).toBeUndefined();
    const logGroupArn = { 'Fn::GetAtt': [idOf(stack, fn.logGroup), 'Arn'] };
    expect(grantsOf(resources, roleId)).toEqual([
      { action: 'logs:CreateLogStream', resource: logGroupArn },
      { action: 'logs:PutLogEvents', resource: logGroupArn },
      { action: 'xray:PutTelemetryRecords', resource: '*' },
      { action: 'xray:PutTraceSegments', resource: '*' },
    ]);
    // The function is created once its role may trace: no first invocation without it.
    const tracingPolicyId = Object.entries(resources).find(
      ([, r]) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties).includes('xray:'),
    )?.[0];
    expect(fnResource?.DependsOn).toContain(tracingPolicyId);
  });

  it('gives each function a role of its own', () => {
    // Prepare
    const { stack, fn } = build();
    const other = new PowertoolsFunction(stack, 'Other', { entry: ENTRY, serviceName: 'other' });

    // Act
    const resources = resourcesOf(stack);

    // Assess
    expect(idOf(stack, fn.executionRole)).not.toBe(idOf(stack, other.executionRole));
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Role')).toHaveLength(2);
    const otherLogs = { 'Fn::GetAtt': [idOf(stack, other.logGroup), 'Arn'] };
    expect(grantsOf(resources, idOf(stack, fn.executionRole)).map((g) => g.resource)).not.toContainEqual(
      otherLogs,
    );
  });

  it('keeps its log group by default and removes it when asked', () => {
    const deletionPolicies = (props: Partial<PowertoolsFunctionProps>) =>
      Object.values(resourcesOf(build(props).stack))
        .filter((r) => r.Type === 'AWS::Logs::LogGroup')
        .map((r) => r.DeletionPolicy);
    expect(deletionPolicies({})).toEqual(['Retain']);
    expect(deletionPolicies({ logRemovalPolicy: RemovalPolicy.DESTROY })).toEqual(['Delete']);
  });

  it('grants no X-Ray, sets no tracing and turns the Tracer off when tracing is disabled', () => {
    // Prepare
    const { stack, fn } = build({ tracing: Tracing.DISABLED });

    // Act
    const resources = resourcesOf(stack);

    // Assess
    const properties = resources[idOf(stack, fn)]?.Properties;
    expect(properties?.TracingConfig).toBeUndefined();
    expect(properties?.Environment).toEqual({
      Variables: expect.objectContaining({ POWERTOOLS_TRACE_ENABLED: 'false' }),
    });
    expect(grantsOf(resources, idOf(stack, fn.executionRole)).map((g) => g.action)).toEqual([
      'logs:CreateLogStream',
      'logs:PutLogEvents',
    ]);
  });

  it('acknowledges "*" for X-Ray only: any other wildcard grant is still a cdk-nag finding', () => {
    // Prepare
    const app = newApp(true);
    const { fn } = build({}, app);
    fn.addToRolePolicy(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: ['*'] }));

    // Act
    const findings = synthFindings(app);

    // Assess
    expect(findings.map((f) => `${f.ruleId} ${f.path}`)).toEqual([
      `AwsSolutions-IAM5[Resource::*] ${fn.executionRole.node.path}/DefaultPolicy/Resource`,
    ]);
  });
});

describe('cdk-nag on PowertoolsFunction', () => {
  it('finds nothing on a function as it is defined', () => {
    const app = newApp(true);
    build({}, app);
    expect(formatFindings(synthFindings(app))).toBe('');
  });
});
