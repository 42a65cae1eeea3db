import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbOrderStore } from '../../../../lambdas/orders/adapters/dynamodb-order-store';
import {
  ChangeRejectedError,
  ConcurrentWriteError,
  StoreBusyError,
} from '../../../../lambdas/orders/application/ports';
import { cancelOrder, placeOrder } from '../../../../lambdas/orders/domain/order';
import { ordersOutboxLayout } from '../../../../lambdas/orders/table';
import { timeIndexEntryOf } from '../../../../packages/dynamodb-outbox/src/runtime/layout';
import { parseOutboxItem } from '../../../../packages/dynamodb-outbox/src/runtime/outbox-item';
import { OutboxWriteError, OutboxWriter } from '../../../../packages/dynamodb-outbox/src/runtime/writer';
import body from '../fixtures/place-order-body.json';

const ORDER_ID = '01JD0000000000000000000ABC';
const EVENT_ID = '01JD00000000000000000EVT01';
const NOW = '2026-11-22T10:00:00.000Z';
const TRACE = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';

const doc = mockClient(DynamoDBDocumentClient);
const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const writer = (options: { deliveryTracking: boolean; traceHeader?: string }) =>
  new OutboxWriter(
    {
      tableName: 'orders',
      layout: ordersOutboxLayout,
      deliveryTracking: options.deliveryTracking,
      retentionDays: 7,
    },
    { traceHeader: () => options.traceHeader, now: () => new Date(NOW) },
  );
const store = (options: { deliveryTracking: boolean; traceHeader?: string }) =>
  new DynamoDbOrderStore(documentClient, { tableName: 'orders', outbox: writer(options) });

const canceled = (codes: string[], item?: Record<string, unknown>) =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code, i) => ({
      Code,
      ...(i === 0 && item ? { Item: marshall(item) } : {}),
    })),
  });

describe('DynamoDbOrderStore', () => {
  beforeEach(() => {
    doc.reset();
    doc.on(TransactWriteCommand).resolves({});
  });

  it('places an order as one transaction: conditional order Put (in the placed-orders index) and an outbox Put with its TTL and time index entry', async () => {
    // Prepare
    const { order, event } = placeOrder(ORDER_ID, body, {
      now: NOW,
      eventId: EVENT_ID,
      correlationId: 'corr-1',
    });

    // Act
    await store({ deliveryTracking: true, traceHeader: TRACE }).commit([
      { type: 'insertOrder', order: { ...order, requestHash: 'abc' } },
      { type: 'appendEvent', event },
    ]);

    // Assess
    expect(doc.commandCalls(TransactWriteCommand)).toHaveLength(1);
    expect(doc.commandCalls(TransactWriteCommand)[0]?.args[0].input).toEqual({
      TransactItems: [
        {
          Put: {
            TableName: 'orders',
            Item: {
              PK: `ORDER#${ORDER_ID}`,
              SK: 'ORDER',
              ...order,
              requestHash: 'abc',
              placedShard: expect.stringMatching(/^PLACED#[0-3]$/),
              placedAt: NOW,
            },
            ConditionExpression: 'attribute_not_exists(PK)',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        {
          Put: {
            TableName: 'orders',
            Item: {
              PK: `ORDER#${ORDER_ID}`,
              SK: 'OUTBOX#0000000001',
              eventId: EVENT_ID,
              eventType: 'OrderPlaced',
              aggregateType: 'Order',
              aggregateId: ORDER_ID,
              sequence: 1,
              occurredAt: NOW,
              schemaVersion: 1,
              correlationId: 'corr-1',
              payload: {
                orderId: ORDER_ID,
                customerId: 'customer-42',
                currency: 'EUR',
                lines: body.lines,
                total: 2699,
              },
              traceHeader: TRACE,
              expiresAt: Date.parse(NOW) / 1000 + 7 * 24 * 60 * 60,
              ...timeIndexEntryOf(
                ordersOutboxLayout,
                { aggregateType: 'Order', aggregateId: ORDER_ID },
                new Date(NOW),
              ),
            },
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': 'PK' },
          },
        },
      ],
    });
  });

  it('without delivery tracking writes no time index entry: no reconciler lists the item', async () => {
    // Prepare
    const { event } = placeOrder(ORDER_ID, body, { now: NOW, eventId: EVENT_ID });

    // Act
    await store({ deliveryTracking: false }).commit([{ type: 'appendEvent', event }]);

    // Assess
    const [put] = doc.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    const item = put?.Put?.Item ?? {};
    expect(item.expiresAt).toBe(Date.parse(NOW) / 1000 + 7 * 24 * 60 * 60);
    expect(item).not.toHaveProperty('outboxMinute');
    expect(item).not.toHaveProperty('traceHeader');
    expect(parseOutboxItem(ordersOutboxLayout, item)).toMatchObject({
      ok: true,
      record: { key: { PK: `ORDER#${ORDER_ID}`, SK: 'OUTBOX#0000000001' }, envelope: event },
    });
  });

  it('refuses a commit over the transaction limits before calling DynamoDB', async () => {
    // Prepare
    const { event } = placeOrder(ORDER_ID, body, { now: NOW, eventId: EVENT_ID });
    const events = Array.from({ length: 101 }, (_, i) => ({ ...event, sequence: i + 1 }));

    // Act
    const attempt = store({ deliveryTracking: true }).commit(
      events.map((e) => ({ type: 'appendEvent', event: e })),
    );

    // Assess
    await expect(attempt).rejects.toThrow(
      new OutboxWriteError('The transaction has 101 actions; TransactWriteItems allows 100'),
    );
    expect(doc.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('cancels with an Update conditional on the version and status read, plus the next outbox item', async () => {
    // Prepare
    const { order: placed } = placeOrder(ORDER_ID, body, { now: NOW, eventId: EVENT_ID });
    const { order, event } = cancelOrder(placed, 'too late', {
      now: NOW,
      eventId: '01JD00000000000000000EVT02',
    });

    // Act
    await store({ deliveryTracking: true }).commit([
      { type: 'updateOrder', order, expected: { version: 1, status: 'PLACED' } },
      { type: 'appendEvent', event },
    ]);

    // Assess
    const [update, put] = doc.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(update).toEqual({
      Update: {
        TableName: 'orders',
        Key: { PK: `ORDER#${ORDER_ID}`, SK: 'ORDER' },
        UpdateExpression:
          'SET #status = :status, #version = :version, #updatedAt = :updatedAt, #cancelledAt = :cancelledAt, #cancelReason = :cancelReason REMOVE #placedShard, #placedAt',
        ConditionExpression: '#version = :expectedVersion AND #status = :expectedStatus',
        ExpressionAttributeNames: {
          '#status': 'status',
          '#version': 'version',
          '#updatedAt': 'updatedAt',
          '#cancelledAt': 'cancelledAt',
          '#cancelReason': 'cancelReason',
          '#placedShard': 'placedShard',
          '#placedAt': 'placedAt',
        },
        ExpressionAttributeValues: {
          ':expectedVersion': 1,
          ':expectedStatus': 'PLACED',
          ':status': 'CANCELLED',
          ':version': 2,
          ':updatedAt': NOW,
          ':cancelledAt': NOW,
          ':cancelReason': 'too late',
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    });
    expect(put?.Put?.Item).toMatchObject({
      SK: 'OUTBOX#0000000002',
      sequence: 2,
      eventType: 'OrderCancelled',
    });
    expect(put?.Put?.ConditionExpression).toBe('attribute_not_exists(#pk)');
    expect(put?.Put?.ExpressionAttributeNames).toEqual({ '#pk': 'PK' });
    expect(put?.Put?.Item).toMatchObject({ PK: `ORDER#${ORDER_ID}` });
  });

  it('reports a failed order condition with the stored order DynamoDB returned', async () => {
    // Prepare
    const { order, event } = placeOrder(ORDER_ID, body, { now: NOW, eventId: EVENT_ID });
    const existing = { PK: `ORDER#${ORDER_ID}`, SK: 'ORDER', ...order, requestHash: 'h' };
    doc.on(TransactWriteCommand).rejects(canceled(['ConditionalCheckFailed', 'None'], existing));

    // Act
    const error = await store({ deliveryTracking: true })
      .commit([
        { type: 'insertOrder', order },
        { type: 'appendEvent', event },
      ])
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(ChangeRejectedError);
    expect(error).toMatchObject({ changeIndex: 0, current: { ...order, requestHash: 'h' } });
  });

  it.each([
    [['TransactionConflict', 'None'], ConcurrentWriteError],
    [['None', 'ThrottlingError'], StoreBusyError],
  ])('translates cancellation reasons %j', async (codes, expected) => {
    // Prepare
    const { event } = placeOrder(ORDER_ID, body, { now: NOW, eventId: EVENT_ID });
    doc.on(TransactWriteCommand).rejects(canceled(codes));

    // Act
    const error = await store({ deliveryTracking: true })
      .commit([{ type: 'appendEvent', event }])
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(expected);
  });

  it('reads with a consistent GetItem and hides the keys', async () => {
    // Prepare
    const { order } = placeOrder(ORDER_ID, body, { now: NOW, eventId: EVENT_ID });
    doc.on(GetCommand).resolves({ Item: { PK: `ORDER#${ORDER_ID}`, SK: 'ORDER', ...order } });

    // Act
    const read = await store({ deliveryTracking: true }).get(ORDER_ID);

    // Assess
    expect(read).toEqual(order);
    expect(doc.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: 'orders',
      Key: { PK: `ORDER#${ORDER_ID}`, SK: 'ORDER' },
      ConsistentRead: true,
    });
  });

  it('refuses to build a key from a malformed id', async () => {
    await expect(store({ deliveryTracking: true }).get('x#OUTBOX')).rejects.toThrow(/invalid order id/);
    expect(doc.commandCalls(GetCommand)).toHaveLength(0);
  });
});
