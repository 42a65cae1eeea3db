import { join } from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Policy, PolicyDocument, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  Architecture,
  type CfnFunction,
  Code,
  type FunctionOptions,
  Function as LambdaFunction,
  LoggingFormat,
  Runtime,
  RuntimeFamily,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import {
  LogLevel,
  NodejsFunction,
  type NodejsFunctionProps,
  OutputFormat,
} from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { prebuiltAsset } from './assets.js';
import { AWS_SDK_EXTERNAL, REQUIRE_BANNER, TRACING_FILE } from './bundling.js';

/** What every function of the outbox gets from Powertools, configured through its environment. */
export interface PowertoolsOptions {
  /** Powertools service name (logs, metrics dimension, traces). */
  readonly serviceName: string;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the function's log group when it leaves the stack. Production keeps its logs
   * (an audit may need them after the function is gone); a dev stack cleans up after itself.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** Powertools log level. @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * CloudWatch metrics namespace (EMF, POWERTOOLS_METRICS_NAMESPACE). OutboxMonitoring charts and
   * alarms on the same default.
   * @default the stack's name
   */
  readonly metricsNamespace?: string;
}

export interface PowertoolsFunctionProps
  extends Omit<NodejsFunctionProps, 'role' | 'logGroup'>,
    PowertoolsOptions {
  /** Absolute path of the handler module. */
  readonly entry: string;
  /** @default Runtime.NODEJS_24_X */
  readonly runtime?: Runtime;
  /** @default Architecture.ARM_64 */
  readonly architecture?: Architecture;
  /**
   * X-Ray tracing. Anything but `Tracing.DISABLED` grants X-Ray in a policy of its own; disabled,
   * the function's Tracer is turned off (POWERTOOLS_TRACE_ENABLED=false) and never loaded.
   * @default Tracing.ACTIVE
   */
  readonly tracing?: Tracing;
}

/** The default metrics namespace of the functions and the monitoring in `scope`: the stack's name. */
export const defaultMetricsNamespace = (scope: Construct): string => Stack.of(scope).stackName;

const shellQuoted = (arg: string): string => `'${arg.replaceAll("'", `'\\''`)}'`;

/** Copies the prebuilt Tracer's file and its source map into `outputDir`. */
const tracingFileCommand = (outputDir: string): string => {
  const tracing = prebuiltAsset('tracing');
  return ['cp', join(tracing, TRACING_FILE), join(tracing, `${TRACING_FILE}.map`), outputDir]
    .map(shellQuoted)
    .join(' ');
};

/** The function settings every construct of the outbox passes through to each function it creates. */
export type FunctionDefaults = Pick<
  PowertoolsOptions,
  'logLevel' | 'logRetention' | 'logRemovalPolicy' | 'metricsNamespace'
>;

/** What Lambda needs to write a function's logs into a log group that already exists. */
export const LOG_WRITE_ACTIONS = ['logs:CreateLogStream', 'logs:PutLogEvents'] as const;

/** What active tracing needs; X-Ray supports no resource-level permissions for them. */
export const XRAY_WRITE_ACTIONS = ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'] as const;

/** The runtime the engine's prebuilt bundles are built and tested for, and every function's default here. */
const DEFAULT_RUNTIME = Runtime.NODEJS_24_X;

const nodeMajor = (runtime: Runtime): number => Number(/^nodejs(\d+)/.exec(runtime.name)?.[1] ?? 0);

/**
 * Whether the app's aws-cdk-lib knows a Node.js runtime newer than the default: cdk-nag's
 * AwsSolutions-L1 then flags every function left on the default, one the library chose on purpose.
 */
const newerNodeRuntimeKnown = (): boolean =>
  Object.values(Runtime).some(
    (runtime) =>
      runtime instanceof Runtime &&
      runtime.family === RuntimeFamily.NODEJS &&
      nodeMajor(runtime) > nodeMajor(DEFAULT_RUNTIME),
  );

type BaseProps = PowertoolsOptions &
  Omit<FunctionOptions, 'role' | 'logGroup' | 'tracing'> & {
    readonly runtime?: Runtime | undefined;
    readonly tracing?: Tracing | undefined;
  };

/** One definition of what PowertoolsFunction and the engine's prebuilt functions share. */
interface PowertoolsBase<P extends BaseProps> {
  readonly executionRole: Role;
  /** The function's props: the defaults, the caller's over them, the environment merged. */
  readonly functionProps: Omit<
    P,
    keyof PowertoolsOptions | 'tracing' | 'runtime' | 'architecture' | 'environment'
  > & {
    readonly runtime: Runtime;
    readonly architecture: Architecture;
    readonly role: Role;
    readonly logGroup: LogGroup;
    readonly environment: Record<string, string>;
  };
  /** Once the function exists: X-Ray, in a policy of its own. */
  finish(fn: LambdaFunction): void;
}

const powertoolsBase = <P extends BaseProps>(scope: Construct, id: string, props: P): PowertoolsBase<P> => {
  const {
    serviceName,
    logRetention,
    logRemovalPolicy,
    logLevel,
    metricsNamespace,
    environment,
    tracing,
    runtime,
    architecture,
    ...rest
  } = props;
  const logGroup = new LogGroup(scope, `${id}Logs`, {
    retention: logRetention ?? RetentionDays.ONE_MONTH,
    removalPolicy: logRemovalPolicy ?? RemovalPolicy.RETAIN,
  });
  // Inline on the role rather than in its default policy: the role is complete when it is
  // created, so the function can log from its first invocation, before any grant is attached.
  const executionRole = new Role(scope, `${id}Role`, {
    assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    description: `Execution role of the ${serviceName} function`,
    inlinePolicies: {
      Logs: new PolicyDocument({
        statements: [
          new PolicyStatement({ actions: [...LOG_WRITE_ACTIONS], resources: [logGroup.logGroupArn] }),
        ],
      }),
    },
  });
  const tracingMode = tracing ?? Tracing.ACTIVE;
  return {
    executionRole,
    functionProps: {
      memorySize: 512,
      timeout: Duration.seconds(10),
      loggingFormat: LoggingFormat.JSON,
      ...rest,
      runtime: runtime ?? DEFAULT_RUNTIME,
      architecture: architecture ?? Architecture.ARM_64,
      logGroup,
      role: executionRole,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: serviceName,
        POWERTOOLS_LOG_LEVEL: logLevel ?? 'INFO',
        POWERTOOLS_METRICS_NAMESPACE: metricsNamespace ?? defaultMetricsNamespace(scope),
        // Without X-Ray the Tracer has nothing to send to: the handlers then never load it.
        ...(tracingMode === Tracing.DISABLED ? { POWERTOOLS_TRACE_ENABLED: 'false' } : {}),
        ...environment,
      },
    },
    finish: (fn) => {
      if (runtime === undefined && newerNodeRuntimeKnown())
        Validations.of(fn).acknowledge({
          id: 'AwsSolutions::AwsSolutions-L1',
          reason:
            `${DEFAULT_RUNTIME.name} is the runtime the outbox's functions are built and tested for, ` +
            'supported by Lambda and chosen on purpose; pass `runtime` to run a function on a newer one.',
        });
      if (tracingMode === Tracing.DISABLED) return;
      // Passing `tracing` to the Function would put the X-Ray statement into the role's default
      // policy, beside every grant: acknowledging its "*" there would also hide any later wildcard
      // grant. In a policy of its own, the acknowledgement covers X-Ray and nothing else.
      const tracingPolicy = new Policy(fn, 'TracingPolicy', {
        roles: [executionRole],
        statements: [new PolicyStatement({ actions: [...XRAY_WRITE_ACTIONS], resources: ['*'] })],
      });
      Validations.of(tracingPolicy).acknowledge({
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason:
          'X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) supports no resource-level ' +
          'permissions, so it is granted on "*" in a policy that holds nothing else. Logs go to the ' +
          "function's own log group; every other grant names its table, index, stream, bus, queue or key.",
      });
      const cfnFunction = fn.node.defaultChild as CfnFunction;
      cfnFunction.tracingConfig = { mode: tracingMode };
      // As for the default policy: traces are sent from the first invocation on.
      cfnFunction.node.addDependency(tracingPolicy);
    },
  };
};

/**
 * The one way a function is defined here: by default Node.js 24 on arm64, bundled by the locally
 * installed esbuild (never Docker), ESM with source maps, X-Ray tracing, JSON logs with bounded
 * retention, and Powertools configured through the environment. The caller's environment is
 * merged over these defaults, never replaced by them. The asset holds the function's bundle
 * (`index.mjs`) and the Tracer's file (`tracing.mjs`, prebuilt in the package), each with its
 * source map.
 *
 * Each function has its own execution role and its own log group. The role does not carry the
 * AWSLambdaBasicExecutionRole managed policy (logs:CreateLogGroup, CreateLogStream and
 * PutLogEvents on every log group of the account): it may write to its own log group only, and
 * grants add the rest, resource by resource.
 */
export class PowertoolsFunction extends NodejsFunction {
  /** The function's own execution role: grants to the function land here. */
  public readonly executionRole: Role;

  constructor(scope: Construct, id: string, props: PowertoolsFunctionProps) {
    const { bundling, ...rest } = props;
    const { commandHooks, externalModules, ...bundlingProps } = bundling ?? {};
    if (bundlingProps.format !== undefined && bundlingProps.format !== OutputFormat.ESM)
      throw new Error(
        `PowertoolsFunction ${id}: bundling.format must be ESM: the handler imports ${TRACING_FILE} beside its bundle`,
      );
    const base = powertoolsBase(scope, id, rest);
    super(scope, id, {
      ...base.functionProps,
      bundling: {
        format: OutputFormat.ESM,
        minify: true,
        sourceMap: true,
        // Stack traces map back to file, line and name without the sources' text: a map about
        // half the size, which Node parses at import with --enable-source-maps.
        sourcesContent: false,
        banner: REQUIRE_BANNER,
        forceDockerBundling: false,
        // Warnings and errors only: a synth in CI should not print every bundle's size.
        logLevel: LogLevel.WARNING,
        ...bundlingProps,
        // The Tracer's file is imported at run time, from beside the bundle, not bundled into it.
        externalModules: [...(externalModules ?? [AWS_SDK_EXTERNAL]), `./${TRACING_FILE}`],
        commandHooks: {
          beforeBundling: (inputDir, outputDir) => commandHooks?.beforeBundling(inputDir, outputDir) ?? [],
          beforeInstall: (inputDir, outputDir) => commandHooks?.beforeInstall(inputDir, outputDir) ?? [],
          afterBundling: (inputDir, outputDir) => [
            ...(commandHooks?.afterBundling(inputDir, outputDir) ?? []),
            tracingFileCommand(outputDir),
          ],
        },
      },
    });
    this.executionRole = base.executionRole;
    base.finish(this);
  }

  /**
   * Grant exactly `actions` on the table (and its indexes) and pass its name in `envName`
   * together, so a function never knows a table it may not use, nor uses one it was not told of.
   */
  useTable(table: ITable, envName: string, actions: readonly string[]): void {
    table.grant(this, ...actions);
    this.addEnvironment(envName, table.tableName);
  }
}

export interface EngineFunctionProps
  extends Omit<FunctionOptions, 'role' | 'logGroup' | 'tracing' | 'architecture'>,
    PowertoolsOptions {
  /** Which of the engine's functions, prebuilt by the package build into assets/<name>. */
  readonly asset: 'relay' | 'reconciler';
}

/**
 * One of the engine's own functions (the relay, the reconciler), deployed from the bundle the
 * package build made (assets/<name>: index.mjs and tracing.mjs, each with its source map): an app
 * synthesizes the outbox without esbuild and without the library's TypeScript sources. Everything
 * else is PowertoolsFunction's: the same defaults, own role and log group, X-Ray and environment.
 */
export class EngineFunction extends LambdaFunction {
  /** The function's own execution role: grants to the function land here. */
  public readonly executionRole: Role;

  constructor(scope: Construct, id: string, props: EngineFunctionProps) {
    const { asset, ...rest } = props;
    const base = powertoolsBase(scope, id, rest);
    super(scope, id, {
      ...base.functionProps,
      code: Code.fromAsset(prebuiltAsset(asset)),
      handler: 'index.handler',
    });
    this.executionRole = base.executionRole;
    base.finish(this);
  }
}
