import { readFileSync } from 'node:fs';
import * as z from 'zod';

/**
 * The settings the stack deploys, read from the constructs themselves (no template synthesis,
 * no asset bundling): the relay's event source mapping and memory, the API function's
 * environment, the table's pending index. The benchmark runs the relay locally with exactly
 * these, and the cost model prices them, so neither can drift from what `cdk deploy` ships.
 *
 * Source of truth: the OrdersStack as bin/app.ts builds it (cdk.json context, default stage).
 * A part the stack does not compose yet is read from its construct's defaults instead, and the
 * result says so.
 */

export interface RelaySettings {
  readonly batchSize: number;
  readonly maximumBatchingWindowSeconds: number;
  readonly parallelizationFactor: number;
  readonly maximumRetryAttempts: number;
  readonly maximumRecordAgeSeconds: number;
  readonly bisectBatchOnFunctionError: boolean;
  readonly reportBatchItemFailures: boolean;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  /** FilterCriteria patterns as CloudFormation carries them (JSON strings). */
  readonly filterPatterns: readonly string[];
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly environment: Readonly<Record<string, string>>;
}

export interface FunctionSettings {
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly environment: Readonly<Record<string, string>>;
}

export interface IndexSettings {
  readonly indexName: string;
  readonly keys: readonly string[];
  readonly tableKeys: readonly string[];
  readonly projection: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
  readonly nonKeyAttributes: readonly string[];
}

export interface DeployedSettings {
  /** Where each part was read from. */
  readonly sources: { readonly relay: string; readonly api: string; readonly table: string };
  readonly relay: RelaySettings;
  readonly api: FunctionSettings;
  readonly pendingIndex: IndexSettings;
  /** Packages NodejsFunction leaves out of bundles (the Lambda runtime provides them). */
  readonly bundleExternals: readonly string[];
}

/** A token (a reference to another resource) in an environment value, as it prints offline. */
const TOKEN_PLACEHOLDER = 'deploy-time-value';

const environmentOf = (resolved: unknown): Record<string, string> => {
  const variables = z
    .object({ variables: z.record(z.string(), z.unknown()).optional() })
    .optional()
    .parse(resolved)?.variables;
  return Object.fromEntries(
    Object.entries(variables ?? {}).map(([name, value]) => [
      name,
      typeof value === 'string' ? value : TOKEN_PLACEHOLDER,
    ]),
  );
};

const mappingSchema = z.object({
  batchSize: z.number().int().positive().default(100),
  maximumBatchingWindowInSeconds: z.number().min(0).default(0),
  parallelizationFactor: z.number().int().positive().default(1),
  maximumRetryAttempts: z.number().int().default(-1),
  maximumRecordAgeInSeconds: z.number().int().default(-1),
  bisectBatchOnFunctionError: z.boolean().default(false),
  functionResponseTypes: z.array(z.string()).default([]),
  startingPosition: z.enum(['TRIM_HORIZON', 'LATEST']),
  filterCriteria: z.object({ filters: z.array(z.object({ pattern: z.string() })) }).optional(),
});

const functionSchema = z.object({
  memorySize: z.number().int().default(128),
  timeout: z.number().default(3),
});

const indexSchema = z.array(
  z.object({
    indexName: z.string(),
    keySchema: z.array(z.object({ attributeName: z.string(), keyType: z.string() })),
    projection: z.object({
      projectionType: z.enum(['ALL', 'KEYS_ONLY', 'INCLUDE']).default('KEYS_ONLY'),
      nonKeyAttributes: z.array(z.string()).default([]),
    }),
  }),
);

const keySchema = z.array(z.object({ attributeName: z.string(), keyType: z.string() }));

/** cdk.json's context, which `cdk synth` passes to the app: feature flags and stage settings. */
const cdkJsonContext = (path: string): Record<string, unknown> => {
  const parsed = z
    .object({ context: z.record(z.string(), z.unknown()).default({}) })
    .parse(JSON.parse(readFileSync(path, 'utf8')));
  return parsed.context;
};

export const readDeployedSettings = async (cdkJsonPath: string): Promise<DeployedSettings> => {
  const { App, Stack } = await import('aws-cdk-lib');
  const { CfnGlobalTable } = await import('aws-cdk-lib/aws-dynamodb');
  const { EventBus } = await import('aws-cdk-lib/aws-events');
  const { CfnEventSourceMapping, CfnFunction } = await import('aws-cdk-lib/aws-lambda');
  const { readStageConfig } = await import('../lib/config');
  const { OrdersStack } = await import('../lib/orders-stack');
  const { OrdersApi } = await import('../lib/constructs/orders-api');
  const { OrdersTable } = await import('../lib/constructs/orders-table');
  const { OutboxRelay } = await import('../lib/constructs/outbox-relay');

  const context = cdkJsonContext(cdkJsonPath);
  const app = new App({ context: { ...context, 'aws:cdk:bundling-stacks': [] } });
  const config = readStageConfig((key) => app.node.tryGetContext(key));
  const stack = new OrdersStack(app, 'BenchSettings', { config });
  const constructs = stack.node.findAll();

  // Parts the stack does not compose (yet) come from their construct's defaults, in a scratch stack.
  const scratch = new Stack(app, 'BenchDefaults');
  const scratchTable = (): InstanceType<typeof OrdersTable> => new OrdersTable(scratch, 'Table');

  const stackRelay = constructs.find((c): c is InstanceType<typeof OutboxRelay> => c instanceof OutboxRelay);
  const relay =
    stackRelay ??
    new OutboxRelay(scratch, 'Relay', {
      table: scratchTable().table,
      eventBus: new EventBus(scratch, 'Bus'),
    });
  const stackApi = constructs.find((c): c is InstanceType<typeof OrdersApi> => c instanceof OrdersApi);
  const api = stackApi ?? new OrdersApi(scratch, 'Api', { table: scratchTable().table });
  const stackTable = constructs.find((c): c is InstanceType<typeof OrdersTable> => c instanceof OrdersTable);
  const table = (stackTable ?? scratchTable()).table.node.defaultChild;

  const mappingL1 = relay.eventSourceMapping.node.defaultChild;
  const relayL1 = relay.handler.node.defaultChild;
  const apiL1 = api.handler.node.defaultChild;
  if (
    !(mappingL1 instanceof CfnEventSourceMapping) ||
    !(relayL1 instanceof CfnFunction) ||
    !(apiL1 instanceof CfnFunction) ||
    !(table instanceof CfnGlobalTable)
  )
    throw new Error('Unexpected construct tree: cannot find the relay mapping, the functions or the table');
  const resolve = (value: unknown): unknown => Stack.of(mappingL1).resolve(value);

  const mapping = mappingSchema.parse(
    resolve({
      batchSize: mappingL1.batchSize,
      maximumBatchingWindowInSeconds: mappingL1.maximumBatchingWindowInSeconds,
      parallelizationFactor: mappingL1.parallelizationFactor,
      maximumRetryAttempts: mappingL1.maximumRetryAttempts,
      maximumRecordAgeInSeconds: mappingL1.maximumRecordAgeInSeconds,
      bisectBatchOnFunctionError: mappingL1.bisectBatchOnFunctionError,
      functionResponseTypes: mappingL1.functionResponseTypes,
      startingPosition: mappingL1.startingPosition,
      filterCriteria: mappingL1.filterCriteria,
    }),
  );
  const relayFn = functionSchema.parse(resolve({ memorySize: relayL1.memorySize, timeout: relayL1.timeout }));
  const apiFn = functionSchema.parse(resolve({ memorySize: apiL1.memorySize, timeout: apiL1.timeout }));

  const tableStack = Stack.of(table);
  const indexes = indexSchema.parse(tableStack.resolve(table.globalSecondaryIndexes) ?? []);
  const tableKeys = keySchema.parse(tableStack.resolve(table.keySchema)).map((k) => k.attributeName);
  const { ordersTable } = await import('../lambdas/shared/table-definition');
  const pending = indexes.find((i) => i.indexName === ordersTable.pendingIndex.indexName);
  if (!pending) throw new Error(`The table has no index ${ordersTable.pendingIndex.indexName}`);

  const smithyExcluded = context['@aws-cdk/aws-lambda-nodejs:sdkV3ExcludeSmithyPackages'] === true;
  return {
    sources: {
      relay: stackRelay ? 'OrdersStack' : 'OutboxRelay defaults',
      api: stackApi ? 'OrdersStack' : 'OrdersApi defaults',
      table: stackTable ? 'OrdersStack' : 'OrdersTable defaults',
    },
    relay: {
      batchSize: mapping.batchSize,
      maximumBatchingWindowSeconds: mapping.maximumBatchingWindowInSeconds,
      parallelizationFactor: mapping.parallelizationFactor,
      maximumRetryAttempts: mapping.maximumRetryAttempts,
      maximumRecordAgeSeconds: mapping.maximumRecordAgeInSeconds,
      bisectBatchOnFunctionError: mapping.bisectBatchOnFunctionError,
      reportBatchItemFailures: mapping.functionResponseTypes.includes('ReportBatchItemFailures'),
      startingPosition: mapping.startingPosition,
      filterPatterns: (mapping.filterCriteria?.filters ?? []).map((f) => f.pattern),
      memoryMb: relayFn.memorySize,
      timeoutSeconds: relayFn.timeout,
      environment: environmentOf(resolve(relayL1.environment)),
    },
    api: {
      memoryMb: apiFn.memorySize,
      timeoutSeconds: apiFn.timeout,
      environment: environmentOf(resolve(apiL1.environment)),
    },
    pendingIndex: {
      indexName: pending.indexName,
      keys: pending.keySchema.map((k) => k.attributeName),
      tableKeys,
      projection: pending.projection.projectionType,
      nonKeyAttributes: pending.projection.nonKeyAttributes,
    },
    bundleExternals: smithyExcluded ? ['@aws-sdk/*', '@smithy/*'] : ['@aws-sdk/*'],
  };
};
