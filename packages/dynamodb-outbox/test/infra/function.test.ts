import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { type App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Architecture, type CfnFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TRACING_FILE } from '../../src/cdk/bundling';
import { PowertoolsFunction, type PowertoolsFunctionProps } from '../../src/cdk/function';
import { relaySettings } from '../../src/runtime/settings';
import { removeTestApps, testApp } from '../support/infra';
import { applyAwsSolutionsChecks, formatFindings, synthFindings } from '../support/nag';
import { ordersOutboxLayout } from '../support/sample-table';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  DependsOn?: string[];
};

/** Any handler module: bundling is skipped, but the entry must exist. */
const ENTRY = fileURLToPath(new URL('../fixtures/handler.ts', import.meta.url));
const RELAY_ENTRY = fileURLToPath(new URL('../../src/engine/relay-handler.ts', import.meta.url));
/** Beside the package's sources, so the AWS SDK resolves from the asset as it does in Lambda. */
const CDK_OUT = fileURLToPath(new URL('../../cdk.out', import.meta.url));

const run = promisify(execFile);

/** Lambda with active tracing, about to invoke the relay: what it reads at import, a sampled trace. */
const LAMBDA_WITH_TRACING: Record<string, string> = {
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
  LAMBDA_TASK_ROOT: '/var/task',
  _HANDLER: 'index.handler',
  _X_AMZN_TRACE_ID: 'Root=1-6740c8a0-000000000000000000000001;Parent=aaaaaaaaaaaaaaaa;Sampled=1',
  NODE_OPTIONS: '--enable-source-maps',
  POWERTOOLS_SERVICE_NAME: 'probe',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
  ...relaySettings.toEnv({
    eventBusName: 'bus',
    source: 'orders',
    poisonQueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/poison',
    putEventsMaxBytes: 256 * 1024,
    tableName: 'orders',
    layout: ordersOutboxLayout,
    deliveryTracking: true,
    retentionDays: 7,
  }),
};

/** Imports the handler module as Lambda does and invokes it with an empty batch: no AWS call. */
const INVOKE_EMPTY_BATCH = `
const { handler } = await import(process.env.HANDLER_MODULE);
const context = { functionName: 'relay', awsRequestId: 'request-1', getRemainingTimeInMillis: () => 10000 };
process.stdout.write(JSON.stringify(await handler({ Records: [] }, context)));
`;

afterAll(removeTestApps);

/** An app that skips bundling; with `nag`, the AwsSolutions checks run on synth as in an app. */
const newApp = (nag = false): App => {
  const app = testApp();
  if (nag) applyAwsSolutionsChecks(app);
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

describe('PowertoolsFunction asset', () => {
  /** The relay's asset directory, bundled once by a real esbuild run, as cdk synth does it. */
  let asset: string;

  beforeAll(() => {
    const app = testApp({ context: { 'aws:cdk:bundling-stacks': ['**'] } });
    const stack = new Stack(app, 'BundleTest');
    const fn = new PowertoolsFunction(stack, 'Relay', {
      entry: RELAY_ENTRY,
      serviceName: 'probe',
    });
    const { s3Key } = stack.resolve((fn.node.defaultChild as CfnFunction).code) as { s3Key: string };
    asset = join(app.outdir, `asset.${s3Key.replace(/\.zip$/, '')}`);
  }, 60_000);

  it('bundles lean: zod/mini tree-shaken, no X-Ray SDK, source maps without the sources', () => {
    // Act
    const bundle = readFileSync(join(asset, 'index.mjs'), 'utf8');

    // Assess: the classic zod API (~70 KB) or the X-Ray SDK (~125 KB) would take it past 150 KB.
    expect(bundle.length).toBeLessThan(150 * 1024);
    expect(bundle).not.toContain('X-Ray for Node.js');
    const map = JSON.parse(readFileSync(join(asset, 'index.mjs.map'), 'utf8')) as {
      sourcesContent?: unknown;
    };
    expect(map.sourcesContent).toBeUndefined();
  });

  it('carries the Tracer in a file of its own, which the bundle loads when tracing is on', async () => {
    // Prepare: a fake X-Ray daemon, and the asset where the AWS SDK resolves, as in Lambda.
    expect(readdirSync(asset).sort()).toEqual([
      'index.mjs',
      'index.mjs.map',
      TRACING_FILE,
      `${TRACING_FILE}.map`,
    ]);
    const segments: { name: string; annotations?: Record<string, unknown> }[] = [];
    const daemon = createSocket('udp4').on('message', (message) =>
      segments.push(JSON.parse(message.toString('utf8').split('\n')[1] ?? '')),
    );
    await new Promise<void>((ready) => daemon.bind(0, '127.0.0.1', ready));
    mkdirSync(CDK_OUT, { recursive: true });
    const deployed = mkdtempSync(join(CDK_OUT, 'traced-asset-'));
    cpSync(asset, deployed, { recursive: true });

    try {
      // Act
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', INVOKE_EMPTY_BATCH], {
        env: {
          PATH: process.env.PATH ?? '',
          ...LAMBDA_WITH_TRACING,
          AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
          HANDLER_MODULE: pathToFileURL(join(deployed, 'index.mjs')).href,
        },
      });

      // Assess
      expect(JSON.parse(stdout)).toEqual({ batchItemFailures: [] });
      await vi.waitFor(() =>
        expect(segments).toEqual([
          expect.objectContaining({
            name: '## index.handler',
            annotations: { ColdStart: true, Service: 'probe' },
          }),
        ]),
      );
    } finally {
      daemon.close();
      rmSync(deployed, { recursive: true, force: true });
    }
  });
});

describe('PowertoolsFunction', () => {
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

  it('refuses a bundle format other than ESM, naming the Tracer file it must import', () => {
    expect(() => build({ bundling: { format: OutputFormat.CJS } })).toThrow(
      'PowertoolsFunction Fn: bundling.format must be ESM: the handler imports tracing.mjs beside its bundle',
    );
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

describe('PowertoolsFunction defaults', () => {
  const functionOf = (props: Partial<PowertoolsFunctionProps> = {}) => {
    const { stack } = build(props);
    return Template.fromStack(stack);
  };

  it("runs Node.js 24 on arm64, traced, with the stack's name as metrics namespace", () => {
    functionOf().hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'probe',
          POWERTOOLS_METRICS_NAMESPACE: 'FunctionTest',
        }),
      },
    });
  });

  it('takes the runtime, architecture, tracing and metrics namespace it is given', () => {
    functionOf({
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.X86_64,
      tracing: Tracing.PASS_THROUGH,
      metricsNamespace: 'Shipping',
    }).hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['x86_64'],
      TracingConfig: { Mode: 'PassThrough' },
      Environment: { Variables: Match.objectLike({ POWERTOOLS_METRICS_NAMESPACE: 'Shipping' }) },
    });
  });

  it("never uses the library's name as namespace", () => {
    expect(JSON.stringify(functionOf().toJSON())).not.toContain('DynamoDbOutbox');
  });
});

describe('cdk-nag on PowertoolsFunction', () => {
  it('finds nothing on a function as it is defined', () => {
    const app = newApp(true);
    build({}, app);
    expect(formatFindings(synthFindings(app))).toBe('');
  });
});
