import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

export interface OutboxFunctionProps extends Omit<NodejsFunctionProps, 'runtime' | 'architecture'> {
  /** Absolute path of the handler module. */
  readonly entry: string;
  /** Powertools service name (logs, metrics dimension, traces). */
  readonly serviceName: string;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** Powertools log level. @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** CloudWatch metrics namespace (EMF). @default 'DynamoDbOutbox' */
  readonly metricsNamespace?: string;
}

/**
 * The one way a function is defined here: Node.js 24 on arm64, bundled by the locally installed
 * esbuild (never Docker), ESM with source maps, X-Ray tracing, JSON logs with bounded retention,
 * and Powertools configured through the environment. The caller's environment is merged over
 * these defaults, never replaced by them.
 */
export class OutboxFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: OutboxFunctionProps) {
    const { serviceName, logRetention, logLevel, metricsNamespace, environment, bundling, ...rest } = props;
    super(scope, id, {
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(10),
      tracing: Tracing.ACTIVE,
      loggingFormat: LoggingFormat.JSON,
      logGroup: new LogGroup(scope, `${id}Logs`, { retention: logRetention ?? RetentionDays.ONE_MONTH }),
      ...rest,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: serviceName,
        POWERTOOLS_LOG_LEVEL: logLevel ?? 'INFO',
        POWERTOOLS_METRICS_NAMESPACE: metricsNamespace ?? 'DynamoDbOutbox',
        ...environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        minify: true,
        sourceMap: true,
        // ESM bundles need a real `require` for the few CommonJS dependencies that call it.
        banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
        forceDockerBundling: false,
        ...bundling,
      },
    });
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
