import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { buildOrdersHandler } from '../lambdas/orders/wiring';
import { localDynamoDbClient } from '../packages/dynamodb-outbox/src/local/dynamodb';
import { latestStreamArn } from '../packages/dynamodb-outbox/src/local/stream-poller';
import { putEventsEntrySize } from '../packages/dynamodb-outbox/src/runtime/entry-size';
import { receiptNameOf } from '../packages/dynamodb-outbox/src/runtime/layout';
import {
  type IndexProjection,
  indexWriteUnits,
  itemBytes,
  standardWriteUnits,
  transactionalWriteUnits,
} from './dynamodb-units';
import type { RelayConsumer } from './harness';
import { localStreamsClient } from './local-clients';
import { placeOrder } from './orders-load';
import { dropTable, newTable, type RelayBenchDeps, type RelayRunOptions, runRelay } from './relay';
import { logRequests } from './sdk-hooks';
import type { IndexSettings } from './settings';
import { median } from './stats';

/*
 * The counts that do not vary from run to run and drive the bill: DynamoDB requests and write
 * units per order, what delivery tracking adds per event (receipts), the size of a published entry, and how
 * a relay without filter and with batch size 1 is invoked.
 */

export interface ApiWriteCounts {
  readonly deliveryTracking: boolean;
  readonly orders: number;
  /** DynamoDB requests per POST /orders, by operation. */
  readonly requestsPerOrder: Record<string, number>;
  readonly writeRequestsPerOrder: number;
  /** ConsumedCapacity as DynamoDB Local reports it (not how AWS bills a transaction). */
  readonly dynamoDbLocalCapacityPerOrder: number;
  /** By AWS's rules: 2 WRU per started KB per transactional item, plus index entries. */
  readonly writeUnitsPerOrder: number;
  readonly tableWriteUnitsPerOrder: number;
  readonly indexWriteUnitsPerOrder: number;
  readonly orderItemBytes: number;
  readonly outboxItemBytes: number;
}

export interface TrackingCounts {
  readonly events: number;
  /** Outbox items the relay updated (MODIFY records in the stream) per event: none, with receipts. */
  readonly updatesPerEvent: number;
  /** Per event: the receipts the relay wrote (in the counts run's small batches), by AWS's rules. */
  readonly writeUnitsPerEvent: number;
  /** Receipt items per event: write requests. */
  readonly receiptsPerEvent: number;
  /** No outbox item was updated, and the receipts name every event. */
  readonly updatesAsSpecified: boolean;
}

export interface UnfilteredCounts {
  readonly orders: number;
  readonly invocations: number;
  /** Invocations per order while the items are written (order INSERT + outbox INSERT). */
  readonly invocationsPerOrderAtWrite: number;
  /** Plus one per outbox item when TTL deletes it (the REMOVE record an unfiltered mapping also delivers). */
  readonly invocationsPerOrder: number;
  readonly invocationMs: number;
}

export interface Counts {
  readonly api: { readonly trackingOn: ApiWriteCounts; readonly trackingOff: ApiWriteCounts };
  readonly tracking: TrackingCounts;
  readonly trackingOffUpdatesPerEvent: number;
  readonly entryBytes: number;
  readonly chunksPerEvent: number;
  readonly unfiltered: UnfilteredCounts;
}

const EVENTBRIDGE_CHUNK_BYTES = 64 * 1024;

const projectionOf = (index: IndexSettings): IndexProjection => ({
  type: index.projection,
  keys: [...index.tableKeys, ...index.keys],
  nonKeyAttributes: index.nonKeyAttributes,
});

const apiWrites = async (
  deps: RelayBenchDeps,
  index: IndexSettings,
  tracking: boolean,
  orders: number,
): Promise<{ counts: ApiWriteCounts; tableName: string }> => {
  const tableName = await newTable(deps, 'counts', tracking);
  const client = localDynamoDbClient(deps.dynamoDb.endpoint);
  const log = logRequests(client);
  const handler = buildOrdersHandler({
    settings: deps.ordersSettings(tableName, tracking),
    clients: { dynamoDb: client },
  });
  for (let i = 0; i < orders; i++) await placeOrder(handler, i, deps.api);
  client.destroy();

  const { layout } = deps.settings.outbox;
  const projection = projectionOf(index);
  let tableUnits = 0;
  let indexUnits = 0;
  const orderBytes: number[] = [];
  const outboxBytes: number[] = [];
  for (const transaction of log.transactions) {
    for (const { Put } of transaction) {
      if (!Put?.Item) continue;
      const bytes = itemBytes(Put.Item);
      (Put.Item[layout.sortKey]?.S?.startsWith(layout.sortKeyPrefix) ? outboxBytes : orderBytes).push(bytes);
      tableUnits += transactionalWriteUnits(bytes);
      indexUnits += indexWriteUnits(undefined, Put.Item, index.keys, projection);
    }
  }
  const requestsPerOrder = Object.fromEntries([...log.requests].map(([name, n]) => [name, n / orders]));
  const writeOperations = [
    'TransactWriteItemsCommand',
    'PutItemCommand',
    'UpdateItemCommand',
    'DeleteItemCommand',
    'BatchWriteItemCommand',
  ];
  return {
    tableName,
    counts: {
      deliveryTracking: tracking,
      orders,
      requestsPerOrder,
      writeRequestsPerOrder: writeOperations.reduce((sum, op) => sum + (requestsPerOrder[op] ?? 0), 0),
      dynamoDbLocalCapacityPerOrder:
        log.consumed.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0) / orders,
      writeUnitsPerOrder: (tableUnits + indexUnits) / orders,
      tableWriteUnitsPerOrder: tableUnits / orders,
      indexWriteUnitsPerOrder: indexUnits / orders,
      orderItemBytes: median(orderBytes),
      outboxItemBytes: median(outboxBytes),
    },
  };
};

interface StreamImage {
  readonly eventName: string;
  readonly sk: string;
  readonly pk: string;
  readonly image: Record<string, AttributeValue> | undefined;
}

/** Every record of the table's stream, oldest first. */
const readStream = async (deps: RelayBenchDeps, tableName: string): Promise<StreamImage[]> => {
  const { layout } = deps.settings.outbox;
  const streams = localStreamsClient(deps.dynamoDb.endpoint);
  const streamArn = await latestStreamArn(deps.dynamoDb.client, tableName);
  const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
  const out: StreamImage[] = [];
  for (const shard of StreamDescription?.Shards ?? []) {
    let { ShardIterator: iterator } = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shard.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    while (iterator) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      for (const record of page.Records ?? [])
        out.push({
          eventName: record.eventName ?? 'UNKNOWN',
          pk: record.dynamodb?.Keys?.[layout.partitionKey]?.S ?? '',
          sk: record.dynamodb?.Keys?.[layout.sortKey]?.S ?? '',
          image: record.dynamodb?.NewImage as Record<string, AttributeValue> | undefined,
        });
      // An open shard keeps returning an iterator; stop at the current end.
      iterator = (page.Records ?? []).length === 0 ? undefined : page.NextShardIterator;
    }
  }
  streams.destroy();
  return out;
};

/** The relay over the table's stream until `events` events are out and it is idle. */
const relayOnce = async (
  deps: RelayBenchDeps,
  tableName: string,
  tracking: boolean,
  events: number,
  options: RelayRunOptions = {},
): Promise<RelayConsumer> =>
  (await runRelay(deps, tableName, tracking, events, { timeoutMs: 120_000, ...options })).consumer;

const trackingWrites = async (
  deps: RelayBenchDeps,
  tableName: string,
  events: number,
): Promise<TrackingCounts> => {
  const { layout } = deps.settings.outbox;
  await relayOnce(deps, tableName, true, events);
  const records = await readStream(deps, tableName);
  const outboxUpdates = records.filter(
    (r) => r.eventName === 'MODIFY' && r.sk.startsWith(layout.sortKeyPrefix),
  );
  const receipts = records.filter((r) => r.eventName === 'INSERT' && r.pk.startsWith('RECEIPT#'));
  const named = new Set(receipts.flatMap((r) => r.image?.published?.SS ?? []));
  const inserted = records.filter((r) => r.eventName === 'INSERT' && r.sk.startsWith(layout.sortKeyPrefix));
  const units = receipts.reduce((sum, r) => sum + (r.image ? standardWriteUnits(itemBytes(r.image)) : 0), 0);
  return {
    events,
    updatesPerEvent: outboxUpdates.length / events,
    writeUnitsPerEvent: units / events,
    receiptsPerEvent: receipts.length / events,
    updatesAsSpecified:
      outboxUpdates.length === 0 &&
      inserted.every((r) =>
        named.has(receiptNameOf(layout, { [layout.partitionKey]: r.pk, [layout.sortKey]: r.sk })),
      ),
  };
};

export const countCosts = async (
  deps: RelayBenchDeps,
  index: IndexSettings,
  orders: number,
): Promise<Counts> => {
  const on = await apiWrites(deps, index, true, orders);
  const off = await apiWrites(deps, index, false, orders);
  deps.log(`counts: ${on.counts.writeRequestsPerOrder} write request(s) per order`);

  const tracking = await trackingWrites(deps, on.tableName, orders);
  const sample = deps.relayBus.lastEvent();
  if (!sample) throw new Error('The relay published nothing');
  const entryBytes = putEventsEntrySize({
    Source: sample.event.source,
    DetailType: sample.event['detail-type'],
    Detail: JSON.stringify(sample.event.detail),
  });

  await relayOnce(deps, off.tableName, false, orders);
  const offUpdates = (await readStream(deps, off.tableName)).filter(
    (r) => r.eventName === 'MODIFY' && r.sk.startsWith(deps.settings.outbox.layout.sortKeyPrefix),
  ).length;

  // The counter-example: every stream record invokes the function, one record at a time.
  const streamRecords = (await readStream(deps, off.tableName)).length;
  const unfiltered = await relayOnce(deps, off.tableName, false, orders, {
    handler: deps.relayHandlers.unfiltered,
    batchSize: 1,
    filterPatterns: [],
    waitForInvocations: streamRecords,
  });
  deps.log(
    `counts: unfiltered batch-1 relay invoked ${unfiltered.invocations.length} times for ${orders} orders`,
  );

  await Promise.all([dropTable(deps, on.tableName), dropTable(deps, off.tableName)]);
  const atWrite = unfiltered.invocations.length / orders;
  return {
    api: { trackingOn: on.counts, trackingOff: off.counts },
    tracking,
    trackingOffUpdatesPerEvent: offUpdates / orders,
    entryBytes,
    chunksPerEvent: Math.max(1, Math.ceil(entryBytes / EVENTBRIDGE_CHUNK_BYTES)),
    unfiltered: {
      orders,
      invocations: unfiltered.invocations.length,
      invocationsPerOrderAtWrite: atWrite,
      invocationsPerOrder: atWrite + 1,
      invocationMs: median(unfiltered.invocations.map((i) => i.ms)),
    },
  };
};
