import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type CfnFunction, Tracing } from 'aws-cdk-lib/aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStageConfig } from '../../lib/config';
import { OutboxFunction, type OutboxFunctionProps } from '../../lib/constructs/outbox-function';
import { applySecurityChecks, formatFindings, synthFindings } from '../../lib/nag';
import { OrdersStack } from '../../lib/orders-stack';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  DependsOn?: string[];
};

const ENTRY = 'lambdas/orders/handler.ts';

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

/** An app that skips bundling; with `nag`, the AwsSolutions checks run on synth as in bin/app.ts. */
const newApp = (nag = false): App => {
  const outdir = mkdtempSync(join(tmpdir(), 'outbox-function-'));
  outdirs.push(outdir);
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  if (nag) applySecurityChecks(app);
  return app;
};

const build = (props: Partial<OutboxFunctionProps> = {}, app = newApp()) => {
  const stack = new Stack(app, 'FunctionTest');
  const fn = new OutboxFunction(stack, 'Fn', { entry: ENTRY, serviceName: 'probe', ...props });
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

describe('OutboxFunction', () => {
  it('bundles lean: zod tree-shaken, source maps without the sources', () => {
    // Prepare: a real esbuild run, as cdk synth does it.
    const outdir = mkdtempSync(join(tmpdir(), 'outbox-function-'));
    outdirs.push(outdir);
    const stack = new Stack(new App({ outdir }), 'BundleTest');
    // Act
    const fn = new OutboxFunction(stack, 'Relay', {
      entry: 'lambdas/outbox/relay-handler.ts',
      serviceName: 'probe',
    });
    // Assess
    const { s3Key } = stack.resolve((fn.node.defaultChild as CfnFunction).code) as { s3Key: string };
    const bundle = join(outdir, `asset.${s3Key.replace(/\.zip$/, '')}`, 'index.mjs');
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
    const other = new OutboxFunction(stack, 'Other', { entry: ENTRY, serviceName: 'other' });

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
    const deletionPolicies = (props: Partial<OutboxFunctionProps>) =>
      Object.values(resourcesOf(build(props).stack))
        .filter((r) => r.Type === 'AWS::Logs::LogGroup')
        .map((r) => r.DeletionPolicy);
    expect(deletionPolicies({})).toEqual(['Retain']);
    expect(deletionPolicies({ logRemovalPolicy: RemovalPolicy.DESTROY })).toEqual(['Delete']);
  });

  it('grants no X-Ray and sets no tracing when tracing is disabled', () => {
    // Prepare
    const { stack, fn } = build({ tracing: Tracing.DISABLED });

    // Act
    const resources = resourcesOf(stack);

    // Assess
    expect(resources[idOf(stack, fn)]?.Properties.TracingConfig).toBeUndefined();
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

describe('OrdersStack functions', () => {
  let resources: Record<string, Resource>;
  let dev: OrdersStack;
  let prod: OrdersStack;

  beforeAll(() => {
    const synth = (stage: string) => {
      const config = readStageConfig((key) => (key === 'stage' ? stage : undefined));
      return new OrdersStack(newApp(), `Orders-${stage}`, { config });
    };
    dev = synth('dev');
    prod = synth('prod');
    resources = resourcesOf(dev);
  }, 60_000);

  const functions = (all: Record<string, Resource>) =>
    Object.entries(all).filter(([, r]) => r.Type === 'AWS::Lambda::Function');

  it('each run on a role of their own that writes only to their own log group', () => {
    const roles = functions(resources).map(
      ([, fn]) => (fn.Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0],
    );
    expect(roles.length).toBeGreaterThanOrEqual(4);
    expect(new Set(roles).size).toBe(roles.length);
    for (const [, fn] of functions(resources)) {
      const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
      const logGroupName = (fn.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup;
      const logGrants = grantsOf(resources, roleId).filter((g) => g.action.startsWith('logs:'));
      expect(logGrants).toEqual([
        { action: 'logs:CreateLogStream', resource: { 'Fn::GetAtt': [logGroupName.Ref, 'Arn'] } },
        { action: 'logs:PutLogEvents', resource: { 'Fn::GetAtt': [logGroupName.Ref, 'Arn'] } },
      ]);
    }
  });

  it('attach no managed policy to any role', () => {
    const roles = Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Role');
    expect(roles.filter((r) => r.Properties.ManagedPolicyArns !== undefined)).toEqual([]);
  });

  it('keep the logs of every function and the API access logs in prod and remove them with a dev stack', () => {
    const deletionPolicies = (stack: OrdersStack) => {
      const all = resourcesOf(stack);
      const named = [
        stack.relay.handler.logGroup,
        stack.api.handler.logGroup,
        stack.api.accessLogs,
        stack.inventory.consumer.function.logGroup,
      ];
      if (stack.reconciler) named.push(stack.reconciler.handler.logGroup);
      const logGroups = Object.values(all).filter((r) => r.Type === 'AWS::Logs::LogGroup');
      // Every log group of the stack is one of the named ones: a new one must decide its policy too.
      expect(logGroups).toHaveLength(named.length);
      return named.map((group) => all[idOf(stack, group)]?.DeletionPolicy);
    };
    expect(dev.reconciler).toBeDefined();
    expect(deletionPolicies(dev)).toEqual(Array(5).fill('Delete'));
    expect(deletionPolicies(prod)).toEqual(Array(5).fill('Retain'));
  });
});

describe('cdk-nag on OutboxFunction', () => {
  it('finds nothing on a function as it is defined', () => {
    const app = newApp(true);
    build({}, app);
    expect(formatFindings(synthFindings(app))).toBe('');
  });
});
