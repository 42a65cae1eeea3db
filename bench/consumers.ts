import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  DeleteTableCommand,
  type DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import {
  createOutboxTable,
  createTableAndWait,
  type DynamoDbLocal,
  localDynamoDbClient,
} from '../packages/dynamodb-outbox/src/local/dynamodb';
import { createOutboxConsumer } from '../packages/dynamodb-outbox/src/runtime/consumer';
import type { EventEnvelope } from '../packages/dynamodb-outbox/src/runtime/envelope';
import { TIME_ORDERED_TABLE_LAYOUT } from '../packages/dynamodb-outbox/src/runtime/layout';
import { IDEMPOTENCY_TABLE } from '../packages/dynamodb-outbox/src/runtime/subscription';
import { createTransactionalConsumer } from '../packages/dynamodb-outbox/src/runtime/transactional-consumer';
import type { TransactItem } from '../packages/dynamodb-outbox/src/runtime/writer';
import type { ConsumerComparison, ConsumerMeasurement } from './consumer-report';
import { itemBytes, standardWriteUnits, transactionalWriteUnits } from './dynamodb-units';
import type { PriceTable } from './prices';
import { logRequests, type RequestLog } from './sdk-hooks';
import { type Summary, summarize } from './stats';

/*
 * The consumer side, side by side in one run on one DynamoDB Local: the same effect (reserve a
 * sku's stock and record the reservation, atomically) taken by the Powertools-idempotency consumer
 * (`createOutboxConsumer`: in-progress record, the effect's transaction, completion) and by the
 * transactional consumer (`createTransactionalConsumer`: inbox record, the effect and one emitted
 * event in one transaction). Requests are counted as sent; write units follow AWS's rules from the
 * items' sizes (dynamodb-units.ts), not DynamoDB Local's report.
 */

/** PowertoolsFunction's default memory: what OutboxConsumer deploys unless told otherwise. */
export const CONSUMER_MEMORY_MB = 512;

/** Events per consumer per round, and rounds (the two consumers alternate first, round by round). */
export const CONSUMER_BENCH_SIZES = {
  quick: { events: 30, rounds: 2 },
  full: { events: 500, rounds: 4 },
} as const;

export interface ConsumerBenchOptions {
  readonly dynamoDb: DynamoDbLocal;
  readonly events: number;
  readonly rounds: number;
  /** The consumer function's memory, for its compute cost. */
  readonly memoryMb: number;
  readonly prices: PriceTable;
  readonly log: (message: string) => void;
}

const SKUS = 10;
const WRITE_COMMANDS = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'TransactWriteItemsCommand',
]);

const orderPlaced = (): EventEnvelope => {
  const orderId = randomUUID();
  return {
    eventId: randomUUID(),
    eventType: 'OrderPlaced',
    aggregateType: 'Order',
    aggregateId: orderId,
    sequence: 1,
    occurredAt: new Date().toISOString(),
    schemaVersion: 1,
    payload: { orderId, sku: `sku-${orderId.charCodeAt(0) % SKUS}`, quantity: 1 },
  };
};

const delivery = (detail: EventEnvelope) => ({
  version: '0',
  id: randomUUID(),
  'detail-type': detail.eventType,
  source: 'bench.orders',
  account: '000000000000',
  time: new Date().toISOString(),
  region: 'us-east-1',
  resources: [],
  detail,
});

/** Both consumers' effect: one sku's stock down, the reservation recorded. */
const reservation = (stockTable: string, event: EventEnvelope): TransactItem[] => {
  const { sku, quantity } = event.payload as { sku: string; quantity: number };
  return [
    {
      Update: {
        TableName: stockTable,
        Key: { pk: `SKU#${sku}` },
        UpdateExpression: 'SET available = available - :qty',
        ConditionExpression: 'available >= :qty',
        ExpressionAttributeValues: { ':qty': quantity },
      },
    },
    {
      Put: {
        TableName: stockTable,
        Item: { pk: `RESERVATION#${event.aggregateId}`, sku, quantity, eventId: event.eventId },
      },
    },
  ];
};

const stockReserved = (event: EventEnvelope): EventEnvelope => ({
  eventId: `${event.eventId}-reserved`,
  eventType: 'StockReserved',
  aggregateType: 'Reservation',
  aggregateId: event.aggregateId,
  sequence: 1,
  occurredAt: new Date().toISOString(),
  schemaVersion: 1,
  payload: { orderId: event.aggregateId, sku: (event.payload as { sku: string }).sku },
});

const quiet = {
  info: () => undefined,
  error: () => undefined,
  appendKeys: () => undefined,
  removeKeys: () => undefined,
};

const scanAll = async (client: DynamoDBClient, tableName: string) =>
  (await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }))).Items ?? [];

type MarshalledAction = {
  Put?: { Item?: Record<string, AttributeValue> };
  Update?: { Key?: Record<string, AttributeValue> };
};

/**
 * Write units of the logged transactions: a Put by its item, an Update by the item as stored after
 * the run (`storedBytes`; its size before differs by a digit at most).
 */
const transactionUnits = (log: RequestLog, storedBytes: (key: string) => number) => {
  let total = 0;
  let outbox = 0;
  for (const transaction of log.transactions)
    for (const action of transaction as MarshalledAction[]) {
      const bytes = action.Put?.Item
        ? itemBytes(action.Put.Item)
        : storedBytes(action.Update?.Key?.pk?.S ?? '');
      const units = transactionalWriteUnits(bytes);
      total += units;
      if (action.Put?.Item?.sk?.S?.startsWith(TIME_ORDERED_TABLE_LAYOUT.sortKeyPrefix)) outbox += units;
    }
  return { total, outbox };
};

const perEvent = (log: RequestLog, events: number) =>
  Object.fromEntries(
    [...log.requests].map(([name, count]) => [name.replace(/Command$/, ''), count / events]),
  );

const usdPerMillion = (
  writeUnits: number,
  handlerMs: Summary,
  memoryMb: number,
  prices: PriceTable,
): number => {
  const p = prices.prices;
  const invocations = 1_000_000;
  return (
    invocations * p.lambdaRequest.usd +
    invocations * (memoryMb / 1024) * (Math.ceil(handlerMs.p50) / 1000) * p.lambdaArmGbSecond.usd +
    invocations * writeUnits * p.dynamoDbWriteRequestUnit.usd
  );
};

/** Both consumers on fresh tables of `dynamoDb`, the same number of events each, alternating rounds. */
export const benchConsumers = async (options: ConsumerBenchOptions): Promise<ConsumerComparison> => {
  const { dynamoDb, events, rounds, memoryMb, prices, log } = options;
  const suffix = randomUUID().slice(0, 8);
  const stockTable = `bench-stock-${suffix}`;
  const idempotencyTable = `bench-idempotency-${suffix}`;
  const outboxTable = `bench-consumer-outbox-${suffix}`;
  const admin = dynamoDb.client;
  await createTableAndWait(admin, {
    TableName: stockTable,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
  });
  await createTableAndWait(admin, {
    TableName: idempotencyTable,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: IDEMPOTENCY_TABLE.partitionKey, AttributeType: 'S' }],
    KeySchema: [{ AttributeName: IDEMPOTENCY_TABLE.partitionKey, KeyType: 'HASH' }],
  });
  await createOutboxTable(admin, outboxTable, TIME_ORDERED_TABLE_LAYOUT);
  const doc = DynamoDBDocumentClient.from(admin);
  for (let i = 0; i < SKUS; i++)
    await doc.send(
      new PutCommand({ TableName: stockTable, Item: { pk: `SKU#sku-${i}`, available: 1_000_000_000 } }),
    );

  // Each consumer its own client, so that its requests are counted apart.
  const idempotentClient = localDynamoDbClient(dynamoDb.endpoint);
  const transactionalClient = localDynamoDbClient(dynamoDb.endpoint);
  const idempotentLog = logRequests(idempotentClient);
  const transactionalLog = logRequests(transactionalClient);
  const idempotentDoc = DynamoDBDocumentClient.from(idempotentClient);
  const idempotent = createOutboxConsumer({
    name: 'bench',
    settings: { idempotencyTableName: idempotencyTable, idempotencyTtlSeconds: 54 * 3600 },
    dynamoDb: idempotentClient,
    logger: quiet,
    handle: async ({ event }) => {
      await idempotentDoc.send(new TransactWriteCommand({ TransactItems: reservation(stockTable, event) }));
      return { outcome: 'reserved' };
    },
  });
  const transactional = createTransactionalConsumer({
    name: 'bench',
    settings: {
      inboxTtlSeconds: 54 * 3600,
      outbox: {
        tableName: outboxTable,
        layout: TIME_ORDERED_TABLE_LAYOUT,
        deliveryTracking: true,
        retentionDays: 7,
      },
    },
    dynamoDb: transactionalClient,
    logger: quiet,
    handle: async ({ event }) => ({
      writes: reservation(stockTable, event),
      emit: [stockReserved(event)],
      result: { outcome: 'reserved' },
    }),
  });

  const samples = { idempotent: [] as number[], transactional: [] as number[] };
  const run = async (which: keyof typeof samples, count: number, record: boolean) => {
    const consume = which === 'idempotent' ? idempotent : transactional;
    for (let i = 0; i < count; i++) {
      const input = delivery(orderPlaced());
      const started = performance.now();
      await consume(input);
      if (record) samples[which].push(performance.now() - started);
    }
  };
  // Warm-up (connections, JIT), unrecorded and uncounted.
  await run('idempotent', 5, false);
  await run('transactional', 5, false);
  for (const entry of [idempotentLog, transactionalLog]) {
    entry.requests.clear();
    entry.transactions.splice(0);
    entry.consumed.splice(0);
  }
  for (let round = 0; round < rounds; round++) {
    const order: (keyof typeof samples)[] =
      round % 2 === 0 ? ['idempotent', 'transactional'] : ['transactional', 'idempotent'];
    for (const which of order) await run(which, events, true);
    log(`consumers: round ${round + 1}/${rounds} done`);
  }
  const total = events * rounds;

  const stored = new Map(
    (await scanAll(admin, stockTable)).map((item) => [item.pk?.S ?? '', itemBytes(item)] as const),
  );
  const storedBytes = (key: string) => stored.get(key) ?? 0;
  // Powertools writes its record twice: in progress (PutItem), then completed (UpdateItem, billed
  // on the larger of before and after: the completed record, which adds the result).
  const recordUnits = (await scanAll(admin, idempotencyTable)).map((record) =>
    standardWriteUnits(itemBytes(record)),
  );
  const idempotencyUnitsPerEvent = (2 * recordUnits.reduce((sum, u) => sum + u, 0)) / recordUnits.length;
  const idempotentTx = transactionUnits(idempotentLog, storedBytes);
  const transactionalTx = transactionUnits(transactionalLog, storedBytes);

  const measurement = (
    name: string,
    requestLog: RequestLog,
    writeUnitsPerEvent: number,
    outboxWriteUnitsPerEvent: number,
    handlerSamples: number[],
  ): ConsumerMeasurement => {
    const handlerMs = summarize(handlerSamples);
    return {
      name,
      events: total,
      requestsPerEvent: perEvent(requestLog, total),
      writeRequestsPerEvent:
        [...requestLog.requests]
          .filter(([command]) => WRITE_COMMANDS.has(command))
          .reduce((s, [, n]) => s + n, 0) / total,
      writeUnitsPerEvent,
      outboxWriteUnitsPerEvent,
      handlerMs,
      usdPerMillionEvents: usdPerMillion(writeUnitsPerEvent, handlerMs, memoryMb, prices),
    };
  };
  const idem = measurement(
    'Powertools idempotency consumer (createOutboxConsumer)',
    idempotentLog,
    idempotencyUnitsPerEvent + idempotentTx.total / total,
    0,
    samples.idempotent,
  );
  const tx = measurement(
    'Transactional consumer (createTransactionalConsumer), one event emitted',
    transactionalLog,
    transactionalTx.total / total,
    transactionalTx.outbox / total,
    samples.transactional,
  );

  idempotentClient.destroy();
  transactionalClient.destroy();
  for (const table of [stockTable, idempotencyTable, outboxTable])
    await admin.send(new DeleteTableCommand({ TableName: table }));
  return {
    memoryMb,
    idempotent: idem,
    transactional: tx,
  };
};
