import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { placeOrder } from '../../../../lambdas/orders/domain/order';
import { buildAnswersHandler } from '../../../../lambdas/orders/saga/wiring';
import { testOrdersSettings } from '../../../support/orders-settings';
import body from '../fixtures/place-order-body.json';
import { fixedClock, sequentialIds } from '../support';

const doc = mockClient(DynamoDBDocumentClient);
const ORDER_ID = '01JD0000000000000000000ABC';
const placed = placeOrder(ORDER_ID, body, {
  now: '2026-11-22T10:00:00.000Z',
  eventId: '01JD00000000000000000EVT01',
}).order;
const consume = buildAnswersHandler({
  settings: {
    tableName: 'orders',
    consumer: { inboxTtlSeconds: 3600, outbox: testOrdersSettings('orders').outbox },
  },
  clients: { dynamoDb: new DynamoDBClient({ region: 'eu-west-1' }) },
  clock: fixedClock('2026-11-22T10:00:02.000Z'),
  ids: sequentialIds('01JD00000000000000000EV'),
});

const answer = (eventType: string, payload: Record<string, unknown>) => ({
  id: 'eb-1',
  'detail-type': eventType,
  source: 'inventory',
  detail: {
    eventId: `01JD0000000000000000ANS${eventType.length}`,
    eventType,
    aggregateType: 'StockReservation',
    aggregateId: ORDER_ID,
    sequence: 1,
    occurredAt: '2026-11-22T10:00:01.000Z',
    schemaVersion: 1,
    payload: { orderId: ORDER_ID, ...payload },
  },
});

const transaction = () => doc.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];

describe('the answers consumer', () => {
  beforeEach(() => {
    doc.reset();
    doc.on(GetCommand).resolves({ Item: placed });
    doc.on(TransactWriteCommand).resolves({});
  });

  it('confirms a PLACED order on StockReserved: inbox, order update and OrderConfirmed in one transaction', async () => {
    // Act
    const result = await consume(answer('StockReserved', { lines: [{ sku: 'SKU-1', quantity: 2 }] }));

    // Assess
    expect(result).toEqual({
      orderId: ORDER_ID,
      outcome: `Order ${ORDER_ID} PLACED → CONFIRMED`,
      duplicate: false,
    });
    const [inbox, update, event] = transaction();
    expect(inbox?.Put?.Item).toMatchObject({ SK: 'INBOX', consumer: 'order-answers' });
    expect(update?.Update).toMatchObject({
      Key: { PK: `ORDER#${ORDER_ID}`, SK: 'ORDER' },
      ExpressionAttributeValues: expect.objectContaining({
        ':expectedStatus': 'PLACED',
        ':status': 'CONFIRMED',
      }),
    });
    expect(event?.Put?.Item).toMatchObject({
      PK: `ORDER#${ORDER_ID}`,
      eventType: 'OrderConfirmed',
      sequence: 2,
    });
  });

  it("rejects a PLACED order on StockRejected with inventory's reason", async () => {
    const result = await consume(
      answer('StockRejected', { reason: 'unknown-sku', message: 'unknown skus: BOOK-1' }),
    );
    expect(result.outcome).toBe(`Order ${ORDER_ID} PLACED → REJECTED (unknown-sku)`);
    expect(transaction()[2]?.Put?.Item).toMatchObject({
      eventType: 'OrderRejected',
      payload: { orderId: ORDER_ID, reason: 'unknown-sku' },
    });
  });

  it('changes nothing but its inbox for an order that left PLACED first', async () => {
    doc.on(GetCommand).resolves({ Item: { ...placed, status: 'CANCELLED', version: 2 } });
    const result = await consume(answer('StockReserved', { lines: [{ sku: 'SKU-1', quantity: 2 }] }));
    expect(result.outcome).toBe(`Order ${ORDER_ID} CANCELLED: StockReserved too late, no change`);
    expect(transaction()).toHaveLength(1);
  });

  it('refuses an answer whose payload it cannot read, writing nothing', async () => {
    await expect(consume(answer('StockRejected', { reason: 'out-of-coffee', message: '?' }))).rejects.toThrow(
      /invalid StockRejected payload: detail\.payload\.reason/,
    );
    expect(doc.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });
});
