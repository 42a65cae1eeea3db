import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { OutboxWriter } from 'dynamodb-outbox/runtime';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbOrderStore } from '../../../../lambdas/orders/adapters/dynamodb-order-store';
import { placeOrder } from '../../../../lambdas/orders/domain/order';
import { sweepDeadline } from '../../../../lambdas/orders/saga/deadline';
import { placedOrdersIndex } from '../../../../lambdas/orders/table';
import { testOrdersSettings } from '../../../support/orders-settings';
import body from '../fixtures/place-order-body.json';
import { fixedClock, sequentialIds } from '../support';

const doc = mockClient(DynamoDBDocumentClient);
const settings = testOrdersSettings('orders');
const store = new DynamoDbOrderStore(
  DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
  {
    tableName: 'orders',
    outbox: new OutboxWriter(settings.outbox),
  },
);
const ORDER_ID = '01JD0000000000000000000ABC';
const placed = placeOrder(ORDER_ID, body, {
  now: '2026-11-22T10:00:00.000Z',
  eventId: '01JD00000000000000000EVT01',
}).order;
const sweep = () =>
  sweepDeadline({
    store,
    placedBefore: (cutoff, limit) => store.placedBefore(cutoff, limit),
    clock: fixedClock('2026-11-22T10:10:00.000Z'),
    ids: sequentialIds('01JD00000000000000000EV'),
    deadlineSeconds: 300,
  });

describe('sweepDeadline', () => {
  beforeEach(() => {
    doc.reset();
    doc.on(QueryCommand).resolves({ Items: [] });
    doc
      .on(QueryCommand, {
        ExpressionAttributeValues: { ':shard': 'PLACED#1', ':cutoff': '2026-11-22T10:05:00.000Z' },
      })
      .resolves({
        Items: [{ PK: `ORDER#${ORDER_ID}`, SK: 'ORDER' }],
      });
    doc.on(GetCommand).resolves({ Item: placed });
    doc.on(TransactWriteCommand).resolves({});
  });

  it('rejects every order placed before the deadline with reason timeout, and its OrderRejected event', async () => {
    // Act
    const result = await sweep();

    // Assess: each shard of the sparse index is queried up to the cutoff.
    expect(result).toEqual({ cutoff: '2026-11-22T10:05:00.000Z', rejected: [ORDER_ID], answered: 0 });
    expect(doc.commandCalls(QueryCommand).map((c) => c.args[0].input.IndexName)).toEqual(
      Array(placedOrdersIndex.shards).fill(placedOrdersIndex.indexName),
    );
    const [update, event] = doc.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(update?.Update).toMatchObject({
      ConditionExpression: '#version = :expectedVersion AND #status = :expectedStatus',
      UpdateExpression: expect.stringMatching(/ REMOVE #placedShard, #placedAt$/),
      ExpressionAttributeValues: expect.objectContaining({
        ':status': 'REJECTED',
        ':rejectionReason': 'timeout',
      }),
    });
    expect(event?.Put?.Item).toMatchObject({
      eventType: 'OrderRejected',
      sequence: 2,
      payload: { orderId: ORDER_ID, reason: 'timeout' },
    });
  });

  it('leaves an order that inventory answered meanwhile, read or written', async () => {
    doc.on(GetCommand).resolvesOnce({ Item: { ...placed, status: 'CONFIRMED', version: 2 } });
    expect(await sweep()).toMatchObject({ rejected: [], answered: 1 });
    doc.on(GetCommand).resolves({ Item: placed });
    doc.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'cancelled',
        $metadata: {},
        CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }],
      }),
    );
    expect(await sweep()).toMatchObject({ rejected: [], answered: 1 });
  });
});
