import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localClientConfig } from '../../src/local/clients';
import { type LocalRuntime, startLocalRuntime } from '../../src/local/runtime';
import type { EventEnvelope } from '../../src/runtime/envelope';

/*
 * The offline runtime runs a transactional consumer from its template alone
 * (`fixtures/transactional-app`): the rule delivers OrderPlaced to the function with the settings
 * OutboxConsumer gave it, the function commits stock, inbox record and its answer in one
 * transaction, and the consumer's own outbox relays the answer to the bus.
 */

const appDir = fileURLToPath(new URL('../fixtures/transactional-app', import.meta.url));
const POLL = { timeout: 30_000, interval: 100 } as const;

const orderPlaced = (quantity: number): EventEnvelope => ({
  eventId: randomUUID(),
  eventType: 'OrderPlaced',
  aggregateType: 'Order',
  aggregateId: `order-${randomUUID().slice(0, 8)}`,
  sequence: 1,
  occurredAt: new Date().toISOString(),
  schemaVersion: 1,
  payload: { sku: 'sku-1', quantity },
});

describe('a transactional consumer under the offline runtime', () => {
  let runtime: LocalRuntime;
  let eventBridge: EventBridgeClient;
  let doc: DynamoDBDocumentClient;
  const results: unknown[] = [];

  beforeAll(async () => {
    runtime = await startLocalRuntime({
      appDir,
      apiPort: 0,
      dynamoDbPort: 0,
      onInvoke: ({ path, ok, result }) => {
        if (ok && path.includes('/Reserver/')) results.push(result);
      },
    });
    eventBridge = new EventBridgeClient(localClientConfig(runtime.eventBus.endpoint));
    doc = DynamoDBDocumentClient.from(runtime.dynamoDb.client);
    await doc.send(
      new PutCommand({ TableName: runtime.tableName('Stock'), Item: { pk: 'SKU#sku-1', available: 5 } }),
    );
  }, 120_000);

  afterAll(async () => {
    eventBridge?.destroy();
    await runtime?.stop();
  });

  const publish = (event: EventEnvelope) =>
    eventBridge.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: 'transactional-app',
            Source: 'orders',
            DetailType: event.eventType,
            Detail: JSON.stringify(event),
          },
        ],
      }),
    );
  const answersTo = (order: EventEnvelope) =>
    runtime.eventBus
      .events()
      .filter(({ event }) => event.source === 'inventory' && event.detail.aggregateId === order.aggregateId)
      .map(({ event }) => [event['detail-type'], event.detail.eventId]);
  const available = async () =>
    (
      await doc.send(
        new GetCommand({
          TableName: runtime.tableName('Stock'),
          Key: { pk: 'SKU#sku-1' },
          ConsistentRead: true,
        }),
      )
    ).Item?.available;

  it('reserves once for an event delivered twice, and its own relay publishes one answer', async () => {
    // Prepare
    const order = orderPlaced(2);
    // Act: the same event twice, as a redelivery upstream would.
    await publish(order);
    await expect.poll(() => results.length, POLL).toBe(1);
    await publish(order);
    // Assess
    await expect.poll(() => results.length, POLL).toBe(2);
    expect(results).toEqual([
      { outcome: 'reserved', duplicate: false },
      { outcome: 'reserved', duplicate: true },
    ]);
    await expect
      .poll(() => answersTo(order), POLL)
      .toEqual([['StockReserved', `${order.eventId}-StockReserved`]]);
    expect(await available()).toBe(3);
  });

  it('answers an order it cannot reserve with StockRejected, holding nothing', async () => {
    // Prepare
    const order = orderPlaced(100);
    const before = await available();
    // Act
    await publish(order);
    // Assess
    await expect
      .poll(() => answersTo(order), POLL)
      .toEqual([['StockRejected', `${order.eventId}-StockRejected`]]);
    expect(await available()).toBe(before);
  });
});
