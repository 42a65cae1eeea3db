import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Policy, PolicyDocument, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type CfnFunction, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import {
  LogLevel,
  NodejsFunction,
  type NodejsFunctionProps,
  OutputFormat,
} from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

export interface PowertoolsFunctionProps
  extends Omit<NodejsFunctionProps, 'runtime' | 'architecture' | 'role' | 'logGroup'> {
  /** Absolute path of the handler module. */
  readonly entry: string;
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
  /** CloudWatch metrics namespace (EMF). @default 'DynamoDbOutbox' */
  readonly metricsNamespace?: string;
}

const BUNDLE_TARGET = 'node24';

/** ESM bundles need a real `require` for the few CommonJS dependencies that call it. */
const REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

/**
 * The Tracer's file, in every function's asset beside its bundle: lambdas/outbox/powertools.ts
 * imports it (`./tracing.mjs`) only where tracing is on. Bundled apart because, inside the
 * function's bundle, the X-Ray SDK would be parsed and its source map read on every cold start,
 * used or not: about as much time as evaluating it.
 */
export const TRACING_FILE = 'tracing.mjs';
const TRACING_SOURCE = fileURLToPath(new URL('../runtime/tracing.mts', import.meta.url));
/** The esbuild that NodejsFunction finds, run the same way (locally, never in Docker). */
const ESBUILD = createRequire(import.meta.url).resolve('esbuild/bin/esbuild');

const shellQuoted = (arg: string): string => `'${arg.replaceAll("'", `'\\''`)}'`;

/** Bundles the Tracer's file into `outputDir` as the function bundles default to (ESM, minified, source maps). */
const tracingFileCommand = (outputDir: string): string =>
  [
    ESBUILD,
    TRACING_SOURCE,
    '--bundle',
    '--platform=node',
    '--format=esm',
    `--target=${BUNDLE_TARGET}`,
    '--main-fields=module,main',
    '--minify',
    '--sourcemap',
    '--sources-content=false',
    '--external:@aws-sdk/*',
    `--banner:js=${REQUIRE_BANNER}`,
    `--outfile=${join(outputDir, TRACING_FILE)}`,
    '--log-level=warning',
  ]
    .map(shellQuoted)
    .join(' ');

/** The function settings every construct of the outbox passes through to each function it creates. */
export type FunctionDefaults = Pick<
  PowertoolsFunctionProps,
  'logLevel' | 'logRetention' | 'logRemovalPolicy' | 'metricsNamespace'
>;

/** What Lambda needs to write a function's logs into a log group that already exists. */
export const LOG_WRITE_ACTIONS = ['logs:CreateLogStream', 'logs:PutLogEvents'] as const;

/** What active tracing needs; X-Ray supports no resource-level permissions for them. */
export const XRAY_WRITE_ACTIONS = ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'] as const;

/**
 * The one way a function is defined here: Node.js 24 on arm64, bundled by the locally installed
 * esbuild (never Docker), ESM with source maps, X-Ray tracing, JSON logs with bounded retention,
 * and Powertools configured through the environment. The caller's environment is merged over
 * these defaults, never replaced by them. The asset holds the function's bundle (`index.mjs`) and
 * the Tracer's file (`tracing.mjs`), each with its source map.
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
    const {
      serviceName,
      logRetention,
      logRemovalPolicy,
      logLevel,
      metricsNamespace,
      environment,
      bundling,
      tracing,
      ...rest
    } = props;
    const { commandHooks, externalModules, ...bundlingProps } = bundling ?? {};
    if (bundlingProps.format !== undefined && bundlingProps.format !== OutputFormat.ESM)
      throw new Error(
        `PowertoolsFunction ${id}: bundling.format must be ESM: the handler imports ${TRACING_FILE} beside its bundle`,
      );
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
    super(scope, id, {
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(10),
      loggingFormat: LoggingFormat.JSON,
      logGroup,
      role: executionRole,
      ...rest,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: serviceName,
        POWERTOOLS_LOG_LEVEL: logLevel ?? 'INFO',
        POWERTOOLS_METRICS_NAMESPACE: metricsNamespace ?? 'DynamoDbOutbox',
        // Without X-Ray the Tracer has nothing to send to: the handlers then never load it.
        ...(tracingMode === Tracing.DISABLED ? { POWERTOOLS_TRACE_ENABLED: 'false' } : {}),
        ...environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: BUNDLE_TARGET,
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
        externalModules: [...(externalModules ?? ['@aws-sdk/*']), `./${TRACING_FILE}`],
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
    this.executionRole = executionRole;

    if (tracingMode !== Tracing.DISABLED) {
      // Passing `tracing` to NodejsFunction would put the X-Ray statement into the role's default
      // policy, beside every grant: acknowledging its "*" there would also hide any later wildcard
      // grant. In a policy of its own, the acknowledgement covers X-Ray and nothing else.
      const tracingPolicy = new Policy(this, 'TracingPolicy', {
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
      const cfnFunction = this.node.defaultChild as CfnFunction;
      cfnFunction.tracingConfig = { mode: tracingMode };
      // As for the default policy: traces are sent from the first invocation on.
      cfnFunction.node.addDependency(tracingPolicy);
    }
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
