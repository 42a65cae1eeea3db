import {
  type CancellationReason,
  DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventIdReusedError, InvalidEventError, type OutboxDelivery } from '../../../src/runtime/consumer';
import { InvalidSettingsError } from '../../../src/runtime/env-contract';
import type { EventEnvelope } from '../../../src/runtime/envelope';
import { sameTableLayout, TIME_ORDERED_TABLE_LAYOUT } from '../../../src/runtime/layout';
import { metrics } from '../../../src/runtime/powertools';
import { transactionalConsumerSettings } from '../../../src/runtime/settings';
import {
  createTransactionalConsumer,
  detailHashOf,
  EffectRejectedError,
  INBOX_SORT_KEY,
  inboxPartition,
  MAX_CONFLICT_ATTEMPTS,
  type TransactionalConsumerOptions,
  TransactionConflictError,
} from '../../../src/runtime/transactional-consumer';
import { OutboxWriteError, type TransactItem } from '../../../src/runtime/writer';

const NOW = new Date('2026-11-22T10:00:05.000Z');
const NOW_SECONDS = NOW.getTime() / 1000;

const settings = {
  inboxTtlSeconds: 3600,
  outbox: {
    tableName: 'inventory-outbox',
    layout: TIME_ORDERED_TABLE_LAYOUT,
    deliveryTracking: true,
    retentionDays: 7,
  },
};

/** The event the consumer takes: an order placed upstream. */
const placed = (overrides: Partial<EventEnvelope> = {}): EventEnvelope => ({
  eventId: '01JEVENT000000000000000001',
  eventType: 'OrderPlaced',
  aggregateType: 'Order',
  aggregateId: 'order-1',
  sequence: 1,
  occurredAt: '2026-11-22T10:00:00.000Z',
  schemaVersion: 1,
  payload: { sku: 'sku-1', quantity: 2 },
  ...overrides,
});

const delivery = (detail: EventEnvelope = placed()) => ({
  version: '0',
  id: 'envelope-1',
  'detail-type': detail.eventType,
  source: 'orders',
  account: '123456789012',
  time: '2026-11-22T10:00:01Z',
  region: 'us-east-1',
  resources: [],
  detail,
});

/** The consumer's answer: an event of its own, with an eventId derived from the one it answers. */
const answer = (eventType: string, { event }: OutboxDelivery): EventEnvelope => ({
  eventId: `${event.eventId.slice(0, -1)}9`,
  eventType,
  aggregateType: 'Reservation',
  aggregateId: event.aggregateId,
  sequence: 1,
  occurredAt: NOW.toISOString(),
  schemaVersion: 1,
  payload: { orderId: event.aggregateId },
});

const reserve: TransactItem = {
  Update: {
    TableName: 'inventory',
    Key: { pk: 'SKU#sku-1' },
    UpdateExpression: 'SET available = available - :qty',
    ConditionExpression: 'available >= :qty',
    ExpressionAttributeValues: { ':qty': 2 },
  },
};
const remember: TransactItem = { Put: { TableName: 'inventory', Item: { pk: 'RESERVATION#order-1' } } };

const canceled = (...codes: (string | CancellationReason)[]) =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((code) => (typeof code === 'string' ? { Code: code } : code)),
  });

/** The inbox record as DynamoDB returns it with ALL_OLD: attribute values, not plain ones. */
const storedInbox = (detail: EventEnvelope, result: Record<string, unknown>) => ({
  Code: 'ConditionalCheckFailed',
  Item: marshall({
    pk: inboxPartition('inventory', detail.eventId),
    sk: INBOX_SORT_KEY,
    detailHash: detailHashOf(detail),
    result,
  }),
});

const quietLogger = { info: vi.fn(), error: vi.fn(), appendKeys: vi.fn(), removeKeys: vi.fn() };
const doc = mockClient(DynamoDBDocumentClient);
const addMetric = vi.spyOn(metrics, 'addMetric');
afterAll(() => doc.restore());

type Result = { readonly outcome: string };

const consumer = (overrides: Partial<TransactionalConsumerOptions<Result>> = {}) => {
  const handle = vi.fn(async (d: OutboxDelivery) => ({
    writes: [reserve, remember],
    emit: [answer('StockReserved', d)],
    result: { outcome: 'reserved' },
  }));
  const onRejected = vi.fn(async (d: OutboxDelivery) => ({
    writes: [],
    emit: [answer('StockRejected', d)],
    result: { outcome: 'rejected' },
  }));
  const consume = createTransactionalConsumer<Result>({
    name: 'inventory',
    handle,
    onRejected,
    settings,
    dynamoDb: new DynamoDBClient({ region: 'us-east-1' }),
    logger: quietLogger,
    now: () => NOW,
    ...overrides,
  });
  return { consume, handle, onRejected };
};

const transactions = () =>
  doc.commandCalls(TransactWriteCommand).map((call) => call.args[0].input.TransactItems ?? []);

beforeEach(() => {
  doc.reset();
  addMetric.mockClear();
});

describe('createTransactionalConsumer', () => {
  it('commits the inbox record, the handler writes and the emitted events in one transaction, in that order', async () => {
    // Prepare
    doc.on(TransactWriteCommand).resolves({});
    const { consume } = consumer();
    // Act
    const result = await consume(delivery());
    // Assess
    expect(result).toEqual({ outcome: 'reserved', duplicate: false });
    const [items, ...more] = transactions();
    expect(more).toHaveLength(0);
    expect(items).toHaveLength(4);
    expect(items?.[0]).toEqual({
      Put: {
        TableName: 'inventory-outbox',
        Item: {
          pk: 'INBOX#inventory#01JEVENT000000000000000001',
          sk: 'INBOX',
          consumer: 'inventory',
          eventId: '01JEVENT000000000000000001',
          detailHash: detailHashOf(placed()),
          result: { outcome: 'reserved' },
          processedAt: NOW.toISOString(),
          expiresAt: NOW_SECONDS + 3600,
        },
        ConditionExpression: 'attribute_not_exists(#pk) OR #expiresAt <= :now',
        ExpressionAttributeNames: { '#pk': 'pk', '#expiresAt': 'expiresAt' },
        ExpressionAttributeValues: { ':now': NOW_SECONDS },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    });
    expect(items?.slice(1, 3)).toEqual([reserve, remember]);
    expect(items?.[3]?.Put).toMatchObject({
      TableName: 'inventory-outbox',
      Item: {
        pk: expect.stringMatching(/^2026-11-22T10:00#\d$/),
        sk: expect.stringMatching(/^OUTBOX#2026-11-22T10:00:05.000Z#Reservation#order-1#/),
        eventType: 'StockReserved',
      },
      ConditionExpression: 'attribute_not_exists(#pk)',
    });
    expect(addMetric).toHaveBeenCalledWith('DuplicateDeliveriesSkipped', 'Count', 0);
  });

  it('hashes the detail whatever the order of its keys, and tells different details apart', () => {
    const reordered = Object.fromEntries(Object.entries(placed()).reverse()) as unknown as EventEnvelope;
    expect(detailHashOf(reordered)).toBe(detailHashOf(placed()));
    expect(detailHashOf(placed({ payload: { sku: 'sku-1', quantity: 3 } }))).not.toBe(detailHashOf(placed()));
  });

  it('acknowledges a redelivery that fails only the inbox condition as a duplicate, with the stored result', async () => {
    // Prepare
    doc
      .on(TransactWriteCommand)
      .rejects(canceled(storedInbox(placed(), { outcome: 'reserved' }), 'None', 'None', 'None'));
    const { consume, handle, onRejected } = consumer();
    // Act
    const result = await consume(delivery());
    // Assess: one attempt, nothing retried, the first result returned again.
    expect(result).toEqual({ outcome: 'reserved', duplicate: true });
    expect(transactions()).toHaveLength(1);
    expect(handle).toHaveBeenCalledTimes(1);
    expect(onRejected).not.toHaveBeenCalled();
    expect(addMetric).toHaveBeenCalledWith('DuplicateDeliveriesSkipped', 'Count', 1);
  });

  it('is a duplicate even when the redelivered decision fails a business condition too', async () => {
    // Prepare: the stock the first delivery reserved is gone, so the second decision fails as well.
    doc
      .on(TransactWriteCommand)
      .rejects(
        canceled(storedInbox(placed(), { outcome: 'reserved' }), 'ConditionalCheckFailed', 'None', 'None'),
      );
    const { consume, onRejected } = consumer();
    // Act + Assess
    await expect(consume(delivery())).resolves.toEqual({ outcome: 'reserved', duplicate: true });
    expect(onRejected).not.toHaveBeenCalled();
  });

  it('refuses an eventId processed before with a different detail', async () => {
    // Prepare
    const first = placed({ payload: { sku: 'sku-1', quantity: 5 } });
    doc.on(TransactWriteCommand).rejects(canceled(storedInbox(first, { outcome: 'reserved' }), 'None'));
    const { consume } = consumer();
    // Act
    const attempt = consume(delivery());
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(EventIdReusedError);
    await expect(attempt).rejects.toThrow(
      /01JEVENT000000000000000001 was processed before with a different detail/,
    );
    expect(quietLogger.error).toHaveBeenCalledWith('eventId reused with a different body', expect.anything());
  });

  it("answers a failed condition of the handler's writes with onRejected's effect, committed with the inbox record", async () => {
    // Prepare
    doc
      .on(TransactWriteCommand)
      .rejectsOnce(canceled('None', 'None', { Code: 'ConditionalCheckFailed' }, 'None'))
      .resolves({});
    const { consume, onRejected } = consumer();
    // Act
    const result = await consume(delivery());
    // Assess
    expect(result).toEqual({ outcome: 'rejected', duplicate: false });
    expect(onRejected).toHaveBeenCalledWith(expect.objectContaining({ event: placed() }), {
      failed: [{ index: 1, code: 'ConditionalCheckFailed' }],
    });
    const [, second] = transactions();
    expect(second).toHaveLength(2);
    expect(second?.[0]?.Put?.Item).toMatchObject({ sk: 'INBOX', result: { outcome: 'rejected' } });
    expect(second?.[1]?.Put?.Item).toMatchObject({ eventType: 'StockRejected' });
  });

  it('fails the invocation, naming the failed write, when no onRejected answers the rejection', async () => {
    // Prepare
    doc.on(TransactWriteCommand).rejects(canceled('None', 'ConditionalCheckFailed', 'None', 'None'));
    const { consume } = consumer({ onRejected: undefined });
    // Act
    const attempt = consume(delivery());
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(EffectRejectedError);
    await expect(attempt).rejects.toThrow(/write 0: ConditionalCheckFailed/);
    expect(transactions()).toHaveLength(1);
  });

  it("fails when onRejected's own effect is rejected too", async () => {
    // Prepare
    doc
      .on(TransactWriteCommand)
      .rejectsOnce(canceled('None', 'ConditionalCheckFailed', 'None', 'None'))
      .rejectsOnce(canceled('None', 'ConditionalCheckFailed'));
    const { consume } = consumer({
      onRejected: async () => ({ writes: [remember], result: { outcome: 'rejected' } }),
    });
    // Act + Assess
    await expect(consume(delivery())).rejects.toThrow(/the effect of onRejected was rejected too/);
    expect(transactions()).toHaveLength(2);
  });

  it('decides again from fresh reads after a TransactionConflict', async () => {
    // Prepare
    doc
      .on(TransactWriteCommand)
      .rejectsOnce(canceled('None', 'TransactionConflict', 'None', 'None'))
      .resolves({});
    const { consume, handle } = consumer();
    // Act
    const result = await consume(delivery());
    // Assess
    expect(result).toEqual({ outcome: 'reserved', duplicate: false });
    expect(handle).toHaveBeenCalledTimes(2);
    expect(transactions()).toHaveLength(2);
  });

  it('gives up after a bounded number of conflicts, so that Lambda retries the event later', async () => {
    // Prepare
    doc.on(TransactWriteCommand).rejects(canceled('TransactionConflict', 'None', 'None', 'None'));
    const { consume, handle } = consumer();
    // Act + Assess
    await expect(consume(delivery())).rejects.toBeInstanceOf(TransactionConflictError);
    expect(handle).toHaveBeenCalledTimes(MAX_CONFLICT_ATTEMPTS);
    expect(transactions()).toHaveLength(MAX_CONFLICT_ATTEMPTS);
  });

  it("rethrows a cancellation that is not the handler's business: an outbox item's own condition", async () => {
    // Prepare
    const error = canceled('None', 'None', 'None', 'ConditionalCheckFailed');
    doc.on(TransactWriteCommand).rejects(error);
    const { consume, onRejected } = consumer();
    // Act + Assess
    await expect(consume(delivery())).rejects.toBe(error);
    expect(onRejected).not.toHaveBeenCalled();
  });

  it('refuses an effect over the transaction limits before any call, naming the limit', async () => {
    // Prepare: the inbox record and 100 events are 101 actions.
    const { consume } = consumer({
      handle: async (d) => ({
        writes: [],
        emit: Array.from({ length: 100 }, (_, i) => ({ ...answer('StockReserved', d), sequence: i + 1 })),
        result: { outcome: 'reserved' },
      }),
    });
    // Act
    const attempt = consume(delivery());
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(OutboxWriteError);
    await expect(attempt).rejects.toThrow('The transaction has 101 actions; TransactWriteItems allows 100');
    expect(transactions()).toHaveLength(0);
  });

  it('refuses an invalid delivery before the handler, writing nothing', async () => {
    // Prepare
    const { consume, handle } = consumer();
    // Act + Assess
    await expect(consume({ ...delivery(), detail: { eventId: 'x' } })).rejects.toBeInstanceOf(
      InvalidEventError,
    );
    expect(handle).not.toHaveBeenCalled();
    expect(transactions()).toHaveLength(0);
  });

  it('reads its settings from OUTBOX_TRANSACTIONAL_CONSUMER_SETTINGS, or fails naming it', async () => {
    // Prepare
    doc.on(TransactWriteCommand).resolves({});
    const fromEnv = consumer({ settings: undefined, env: transactionalConsumerSettings.toEnv(settings) });
    const missing = consumer({ settings: undefined, env: {} });
    // Act + Assess
    await expect(fromEnv.consume(delivery())).resolves.toEqual({ outcome: 'reserved', duplicate: false });
    const attempt = missing.consume(delivery());
    await expect(attempt).rejects.toBeInstanceOf(InvalidSettingsError);
    await expect(attempt).rejects.toThrow(
      /^Consumer inventory: Missing required environment variable OUTBOX_TRANSACTIONAL_CONSUMER_SETTINGS/,
    );
    expect(missing.handle).not.toHaveBeenCalled();
  });

  it("keeps the inbox under the layout's own key and TTL names in a same-table outbox, beside the events' aggregate", async () => {
    // Prepare
    doc.on(TransactWriteCommand).resolves({});
    const layout = sameTableLayout({ partitionKey: 'PK', sortKey: 'SK', timeToLiveAttribute: 'ttl' });
    const { consume } = consumer({
      settings: { ...settings, outbox: { ...settings.outbox, tableName: 'inventory', layout } },
      handle: async (d) => ({
        writes: [],
        emit: [answer('StockReserved', d)],
        aggregateKey: 'RESERVATION#order-1',
        result: { outcome: 'reserved' },
      }),
    });
    // Act
    await consume(delivery());
    // Assess
    const [items] = transactions();
    expect(items?.[0]?.Put?.Item).toMatchObject({
      PK: 'INBOX#inventory#01JEVENT000000000000000001',
      SK: 'INBOX',
      ttl: NOW_SECONDS + 3600,
    });
    expect(items?.[1]?.Put?.Item).toMatchObject({ PK: 'RESERVATION#order-1', SK: 'OUTBOX#0000000001' });
  });

  it('refuses an outbox whose sort-key prefix would make inbox records look like outbox items', async () => {
    // Prepare
    const layout = sameTableLayout({ partitionKey: 'PK', sortKey: 'SK', sortKeyPrefix: 'IN' });
    const { consume, handle } = consumer({
      settings: { ...settings, outbox: { ...settings.outbox, layout } },
    });
    // Act + Assess
    await expect(consume(delivery())).rejects.toThrow(
      /sortKeyPrefix IN would make inbox records look like outbox items/,
    );
    expect(handle).not.toHaveBeenCalled();
    expect(transactions()).toHaveLength(0);
  });
});
