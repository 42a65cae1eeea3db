import { readFileSync } from 'node:fs';
import * as z from 'zod';
import type { SameTableLayout } from '../packages/dynamodb-outbox/src/runtime/layout';
import {
  type RelaySettings as OutboxRelaySettings,
  relaySettings,
  type WriterSettings,
  writerSettings,
} from '../packages/dynamodb-outbox/src/runtime/settings';

/**
 * The settings the stack deploys, read from the constructs themselves (no template synthesis,
 * no asset bundling): the relay's event source mapping, memory and settings, the API function's
 * environment and outbox writer settings, the table's time index. The benchmark runs the relay
 * locally with exactly these, and the cost model prices them, so neither can drift from what
 * `cdk deploy` ships. The names CloudFormation fills in at deploy time are the local ones.
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
  /**
   * The relay function's settings (OUTBOX_RELAY_SETTINGS), with the local names: the orders
   * stack's same-table outbox, tracked with receipts (and a time-index entry per item). The
   * time-ordered table is measured on its own (bench/relay.ts).
   */
  readonly outbox: OutboxRelaySettings & { readonly layout: SameTableLayout };
}

export interface FunctionSettings {
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly environment: Readonly<Record<string, string>>;
}

export interface ApiSettings extends FunctionSettings {
  /** The API function's outbox writer settings (OUTBOX_WRITER_SETTINGS), with the local names. */
  readonly outbox: WriterSettings;
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
  readonly api: ApiSettings;
  readonly timeIndex: IndexSettings;
  /** Packages NodejsFunction leaves out of bundles (the Lambda runtime provides them). */
  readonly bundleExternals: readonly string[];
}

/**
 * What the deploy-time names (the table's, the bus's, the poison queue's URL) resolve to offline.
 * CloudFormation fills them into the functions' settings JSON when it deploys the stack.
 */
export interface LocalNames {
  readonly tableName: string;
  readonly eventBusName: string;
  readonly poisonQueueUrl: string;
}

/** A reference to a resource that is not one of the local names, as it prints offline. */
const TOKEN_PLACEHOLDER = 'deploy-time-value';

const referenceSchema = z.union([
  z.object({ Ref: z.string() }).transform((ref) => ref.Ref),
  z
    .object({ 'Fn::GetAtt': z.tuple([z.string(), z.string()]) })
    .transform((att) => att['Fn::GetAtt'].join('.')),
]);
const joinSchema = z.object({ 'Fn::Join': z.tuple([z.string(), z.array(z.unknown())]) });

/**
 * An environment value as CloudFormation would resolve it, with `names` (logical id, or
 * `logicalId.Attribute` for Fn::GetAtt) standing in for the resources it references. Settings
 * JSON with names in it arrives as an Fn::Join of its text and the references.
 */
const resolveValue = (value: unknown, names: ReadonlyMap<string, string>): string => {
  if (typeof value === 'string') return value;
  const reference = referenceSchema.safeParse(value);
  if (reference.success) return names.get(reference.data) ?? TOKEN_PLACEHOLDER;
  const join = joinSchema.safeParse(value);
  if (join.success) {
    const [separator, parts] = join.data['Fn::Join'];
    return parts.map((part) => resolveValue(part, names)).join(separator);
  }
  return TOKEN_PLACEHOLDER;
};

const environmentOf = (resolved: unknown, names: ReadonlyMap<string, string>): Record<string, string> => {
  const variables = z
    .object({ variables: z.record(z.string(), z.unknown()).optional() })
    .optional()
    .parse(resolved)?.variables;
  return Object.fromEntries(
    Object.entries(variables ?? {}).map(([name, value]) => [name, resolveValue(value, names)]),
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

export const readDeployedSettings = async (
  cdkJsonPath: string,
  local: LocalNames,
): Promise<DeployedSettings> => {
  const { App, CfnElement, Stack } = await import('aws-cdk-lib');
  const { CfnGlobalTable } = await import('aws-cdk-lib/aws-dynamodb');
  const { EventBus } = await import('aws-cdk-lib/aws-events');
  const { CfnEventSourceMapping, CfnFunction } = await import('aws-cdk-lib/aws-lambda');
  const { readStageConfig } = await import('../lib/config');
  const { OrdersStack } = await import('../lib/orders-stack');
  const { OrdersApi } = await import('../lib/constructs/orders-api');
  const { OrdersTable } = await import('../lib/constructs/orders-table');
  const { TransactionalOutbox } = await import('../packages/dynamodb-outbox/src/cdk/transactional-outbox');
  const { ordersOutboxLayout } = await import('../lambdas/orders/table');

  const context = cdkJsonContext(cdkJsonPath);
  const app = new App({ context: { ...context, 'aws:cdk:bundling-stacks': [] } });
  const config = readStageConfig((key) => app.node.tryGetContext(key));
  const stack = new OrdersStack(app, 'BenchSettings', { config });
  const constructs = stack.node.findAll();

  // Parts the stack does not compose (yet) come from their construct's defaults, in a scratch stack.
  const scratch = new Stack(app, 'BenchDefaults');
  let scratchParts: {
    table: InstanceType<typeof OrdersTable>;
    outbox: InstanceType<typeof TransactionalOutbox>;
  };
  const fromDefaults = () => {
    if (scratchParts) return scratchParts;
    const table = new OrdersTable(scratch, 'Table');
    const outbox = new TransactionalOutbox(scratch, 'Outbox', {
      table: table.table,
      layout: ordersOutboxLayout,
      eventBus: new EventBus(scratch, 'Bus'),
    });
    scratchParts = { table, outbox };
    return scratchParts;
  };

  const stackOutbox = constructs.find(
    (c): c is InstanceType<typeof TransactionalOutbox> => c instanceof TransactionalOutbox,
  );
  const outbox = stackOutbox ?? fromDefaults().outbox;
  const relay = outbox.relay;
  const stackApi = constructs.find((c): c is InstanceType<typeof OrdersApi> => c instanceof OrdersApi);
  const api = stackApi ?? new OrdersApi(scratch, 'Api', { table: fromDefaults().table.table, outbox });
  const stackTable = constructs.find((c): c is InstanceType<typeof OrdersTable> => c instanceof OrdersTable);
  const table = (stackTable ?? fromDefaults().table).table.node.defaultChild;

  const mappingL1 = relay.eventSourceMapping.node.defaultChild;
  const relayL1 = relay.function.node.defaultChild;
  const apiL1 = api.function.node.defaultChild;
  const outboxTableL1 = outbox.table.node.defaultChild;
  const busL1 = outbox.eventBus.node.defaultChild;
  const poisonQueueL1 = outbox.poisonQueue.node.defaultChild;
  if (
    !(mappingL1 instanceof CfnEventSourceMapping) ||
    !(relayL1 instanceof CfnFunction) ||
    !(apiL1 instanceof CfnFunction) ||
    !(table instanceof CfnGlobalTable) ||
    !(outboxTableL1 instanceof CfnGlobalTable) ||
    !(busL1 instanceof CfnElement) ||
    !(poisonQueueL1 instanceof CfnElement)
  )
    throw new Error(
      'Unexpected construct tree: cannot find the relay mapping, the functions, the table, bus or queue',
    );
  const relayStack = Stack.of(mappingL1);
  const resolve = (value: unknown): unknown => relayStack.resolve(value);
  // Ref of a table is its name, of a bus its name, of a queue its URL.
  const names = new Map([
    [relayStack.getLogicalId(outboxTableL1), local.tableName],
    [relayStack.getLogicalId(busL1), local.eventBusName],
    [relayStack.getLogicalId(poisonQueueL1), local.poisonQueueUrl],
  ]);

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

  const relayEnvironment = environmentOf(resolve(relayL1.environment), names);
  const apiEnvironment = environmentOf(resolve(apiL1.environment), names);
  const relayOutbox = relaySettings.fromEnv(relayEnvironment);
  const { layout } = relayOutbox;
  if (layout.kind !== 'same-table')
    throw new Error(`The benchmark runs the orders stack's same-table outbox, not a ${layout.kind} one`);
  const apiOutbox = writerSettings.fromEnv(apiEnvironment);

  const tableStack = Stack.of(table);
  const indexes = indexSchema.parse(tableStack.resolve(table.globalSecondaryIndexes) ?? []);
  const tableKeys = keySchema.parse(tableStack.resolve(table.keySchema)).map((k) => k.attributeName);
  const { indexName } = layout.timeIndex;
  const timeIndex = indexes.find((i) => i.indexName === indexName);
  if (!timeIndex) throw new Error(`The table has no index ${indexName}`);

  const smithyExcluded = context['@aws-cdk/aws-lambda-nodejs:sdkV3ExcludeSmithyPackages'] === true;
  return {
    sources: {
      relay: stackOutbox ? 'OrdersStack' : 'TransactionalOutbox defaults',
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
      environment: relayEnvironment,
      outbox: { ...relayOutbox, layout },
    },
    api: {
      memoryMb: apiFn.memorySize,
      timeoutSeconds: apiFn.timeout,
      environment: apiEnvironment,
      outbox: apiOutbox,
    },
    timeIndex: {
      indexName: timeIndex.indexName,
      keys: timeIndex.keySchema.map((k) => k.attributeName),
      tableKeys,
      projection: timeIndex.projection.projectionType,
      nonKeyAttributes: timeIndex.projection.nonKeyAttributes,
    },
    bundleExternals: smithyExcluded ? ['@aws-sdk/*', '@smithy/*'] : ['@aws-sdk/*'],
  };
};
