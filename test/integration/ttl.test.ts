import { DeleteCommand, DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../packages/dynamodb-outbox/src/local/runtime';
import { orderOutboxKey } from '../../packages/dynamodb-outbox/test/support/outbox-items';
import { eventually } from './consumer-support';

const DAY = 24 * 60 * 60;

describe('TTL cleanup of published outbox items', () => {
  let runtime: LocalRuntime;
  let doc: DynamoDBDocumentClient;

  beforeAll(async () => {
    runtime = await startLocalRuntime({
      apiPort: 0,
      dynamoDbPort: 0,
      context: { deliveryTracking: true, outboxRetentionDays: 3 },
    });
    doc = DynamoDBDocumentClient.from(runtime.dynamoDb.client);
  });
  afterAll(async () => {
    await runtime?.stop();
  });

  const outboxItem = async (orderId: string) =>
    (
      await doc.send(
        new GetCommand({
          TableName: runtime.tableName('Orders/Table'),
          Key: orderOutboxKey(orderId, 1),
          ConsistentRead: true,
        }),
      )
    ).Item;

  it('arms the TTL when the event is written, never updates the item, and relays nothing when it expires', async () => {
    // Prepare: an order; its event is published, and named in a receipt, without touching the item.
    const writtenFrom = Math.floor(Date.now() / 1000);
    const response = await fetch(`${runtime.apiUrl}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        customerId: 'c1',
        currency: 'EUR',
        lines: [{ sku: 'S1', quantity: 1, unitPrice: 100 }],
      }),
    });
    const { orderId } = (await response.json()) as { orderId: string };
    const writtenTo = Math.ceil(Date.now() / 1000);
    await eventually(async () =>
      runtime.eventBus
        .events()
        .some((e) => (e.event.detail as { aggregateId?: string }).aggregateId === orderId),
    );
    const published = await outboxItem(orderId);
    expect(published?.publishedAt).toBeUndefined();
    expect(published?.expiresAt).toBeGreaterThanOrEqual(writtenFrom + 3 * DAY);
    expect(published?.expiresAt).toBeLessThanOrEqual(writtenTo + 3 * DAY);
    const poller = runtime.mapping('Outbox/Relay').poller;
    if (poller === undefined) throw new Error('the relay is not running');
    // The order INSERT and the relay's receipt INSERT are filtered out; the outbox INSERT is delivered.
    await eventually(async () => poller.stats.recordsFilteredOut === 2);
    const delivered = poller.stats.recordsDelivered;

    // Act: the retention window passes and TTL deletes the item. DynamoDB Local 3.3.0 did not
    // delete expired items within minutes here, so the test deletes it as the TTL process does:
    // a REMOVE on the stream, exactly what a TTL deletion puts there.
    await doc.send(
      new UpdateCommand({
        TableName: runtime.tableName('Orders/Table'),
        Key: orderOutboxKey(orderId, 1),
        UpdateExpression: 'SET expiresAt = :past',
        ExpressionAttributeValues: { ':past': Math.floor(Date.now() / 1000) - 60 },
      }),
    );
    await doc.send(
      new DeleteCommand({ TableName: runtime.tableName('Orders/Table'), Key: orderOutboxKey(orderId, 1) }),
    );

    // Assess: the item is gone, and neither the MODIFY nor the REMOVE reached the relay or the bus.
    expect(await outboxItem(orderId)).toBeUndefined();
    await eventually(async () => poller.stats.recordsFilteredOut === 4);
    expect(poller.stats.recordsDelivered).toBe(delivered);
    expect(runtime.eventBus.events()).toHaveLength(1);
    expect(runtime.eventBus.events()[0]?.event.detail).toMatchObject({
      aggregateId: orderId,
      eventType: 'OrderPlaced',
    });
  });
});
