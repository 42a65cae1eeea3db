import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redrive } from '../../cli/redrive';
import { outboxStatus } from '../../cli/status';
import { type OutboxTarget, resolveTarget } from '../../cli/target';
import type { DeliveryResult } from '../../lambdas/inventory/consumer';
import { DynamoDbReservationStore } from '../../lambdas/inventory/reservation-store';
import { orderPartition, ordersOutboxLayout } from '../../lambdas/orders/table';
import { outboxKeyOf, pendingShardFor } from '../../lambdas/outbox/layout';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';
import { eventually } from './consumer-support';

const POISON_ORDER = '01M81POISON0000000000000000';
const POISON_EVENT = '01M81POISONEVENT0000000000';

/**
 * `npm start`'s runtime with its consumers, and the operator's CLI against it: the inventory
 * consumer takes relayed events, a poison event lands on the SQS stand-in, `status` sees it and
 * `redrive` republishes it once the item is fixed.
 */
describe('the offline runtime with its consumers, operated with the outbox CLI', () => {
  let runtime: LocalRuntime;
  let target: OutboxTarget;
  const results: DeliveryResult[] = [];
  let inventory: DynamoDbReservationStore;

  beforeAll(async () => {
    runtime = await startLocalRuntime({
      apiPort: 0,
      dynamoDbPort: 0,
      onInvoke: (outcome) => {
        if (outcome.ok && outcome.path.includes('/Inventory/Consumer/'))
          results.push(outcome.result as DeliveryResult);
      },
    });
    inventory = new DynamoDbReservationStore(
      DynamoDBDocumentClient.from(runtime.dynamoDb.client),
      runtime.tableName('Inventory/Table'),
    );
    // The CLI finds the table, layout, bus and queues in the stack's outputs, as on AWS.
    target = await resolveTarget(
      { local: true, outputs: runtime.outputs },
      {
        DYNAMODB_ENDPOINT: runtime.dynamoDb.endpoint,
        EVENTBRIDGE_ENDPOINT: runtime.eventBus.endpoint,
        SQS_ENDPOINT: runtime.sqs.endpoint,
      },
    );
  });
  afterAll(async () => {
    target?.destroy();
    await runtime?.stop();
  });

  const placeOrder = async () => {
    const response = await fetch(`${runtime.apiUrl}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        customerId: 'c1',
        currency: 'EUR',
        lines: [{ sku: 'BOOK-1', quantity: 2, unitPrice: 1250 }],
      }),
    });
    return ((await response.json()) as { orderId: string }).orderId;
  };
  const queueDepth = async (name: string) =>
    (await outboxStatus(target)).queues.find((q) => q.name === name)?.messages;

  it('reserves stock for a relayed order, and status shows nothing pending', async () => {
    // Act
    const orderId = await placeOrder();
    await eventually(async () => results.some((r) => r.orderId === orderId));

    // Assess
    expect(results.find((r) => r.orderId === orderId)).toMatchObject({
      outcome: 'reserved',
      duplicate: false,
    });
    expect(await inventory.reservedQuantity('BOOK-1')).toBe(2);
    await eventually(async () => (await outboxStatus(target)).pending === 0);
    const status = await outboxStatus(target);
    expect(status.queues.map((q) => [q.name, q.messages])).toEqual([
      ['Poison', 0],
      ['InventoryDeadLetter', 0],
    ]);
  });

  it('parks a poison event on the poison queue, and redrives it once the item is fixed', async () => {
    // Prepare: an outbox item no EventBridge entry can carry (DetailType over 128 characters).
    const doc = DynamoDBDocumentClient.from(runtime.dynamoDb.client);
    const key = outboxKeyOf(
      ordersOutboxLayout,
      { aggregateType: 'Order', aggregateId: POISON_ORDER, sequence: 1 },
      { aggregateKey: orderPartition(POISON_ORDER) },
    );
    await doc.send(
      new PutCommand({
        TableName: runtime.tableName('Orders/Table'),
        Item: {
          ...key,
          eventId: POISON_EVENT,
          eventType: `OrderPlaced${'X'.repeat(130)}`,
          aggregateType: 'Order',
          aggregateId: POISON_ORDER,
          sequence: 1,
          occurredAt: new Date().toISOString(),
          schemaVersion: 1,
          payload: {
            orderId: POISON_ORDER,
            customerId: 'c2',
            currency: 'EUR',
            lines: [{ sku: 'PEN-7', quantity: 3, unitPrice: 199 }],
            total: 597,
          },
          pendingShard: pendingShardFor(ordersOutboxLayout, POISON_EVENT),
        },
      }),
    );
    await eventually(async () => (await queueDepth('Poison')) === 1);
    // Parked by the relay: off the pending index, so the reconciler will not queue it a second time.
    await eventually(async () => (await outboxStatus(target)).pending === 0);
    const parked = await doc.send(new GetCommand({ TableName: runtime.tableName('Orders/Table'), Key: key }));
    expect(parked.Item).toMatchObject({ parkedAt: expect.any(String) });
    expect(parked.Item?.pendingShard).toBeUndefined();
    expect(parked.Item?.expiresAt).toBeUndefined();

    // Act: a redrive before the fix changes nothing; after it, the event is published.
    const early = await redrive(target);
    await doc.send(
      new UpdateCommand({
        TableName: runtime.tableName('Orders/Table'),
        Key: key,
        UpdateExpression: 'SET eventType = :fixed',
        ExpressionAttributeValues: { ':fixed': 'OrderPlaced' },
      }),
    );
    const fixed = await redrive(target);

    // Assess
    expect(early).toMatchObject({ read: 1, republished: 0, deleted: 0, left: 1 });
    expect(early.entries[0]).toMatchObject({ eventId: POISON_EVENT, outcome: 'still-poison', from: 'table' });
    expect(fixed).toMatchObject({ read: 1, republished: 1, deleted: 1, left: 0 });
    await eventually(async () => results.some((r) => r.eventId === POISON_EVENT));
    expect(await inventory.reservedQuantity('PEN-7')).toBe(3);
    const after = await outboxStatus(target);
    expect(after.pending).toBe(0);
    const published = await doc.send(
      new GetCommand({ TableName: runtime.tableName('Orders/Table'), Key: key }),
    );
    expect(published.Item).toMatchObject({ publishedAt: expect.any(String), expiresAt: expect.any(Number) });
    expect(after.queues.find((q) => q.name === 'Poison')).toMatchObject({ messages: 0, inFlight: 0 });
  });

  it('runs the reconciler, which finds nothing left behind', async () => {
    const report = await runtime.function('Outbox/Reconciler').invoke({});
    expect(report).toMatchObject({ found: 0, republished: 0 });
  });
});
