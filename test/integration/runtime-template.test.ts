import { fileURLToPath } from 'node:url';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveryResult } from '../../lambdas/inventory/consumer';
import type { InvocationOutcome } from '../../packages/dynamodb-outbox/src/local/functions';
import { type LocalRuntime, startLocalRuntime } from '../../packages/dynamodb-outbox/src/local/runtime';
import { orderOutboxKey } from '../../packages/dynamodb-outbox/test/support/outbox-items';
import { eventually } from './consumer-support';

const EXTRA_CONSUMER_APP = fileURLToPath(new URL('../fixtures/extra-consumer', import.meta.url));

const placeOrder = async (runtime: LocalRuntime): Promise<string> => {
  const response = await fetch(`${runtime.apiUrl}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      customerId: 'c1',
      currency: 'EUR',
      lines: [{ sku: 'SKU-1', quantity: 2, unitPrice: 1250 }],
    }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { orderId: string }).orderId;
};

/**
 * The runtime runs what the template declares: a consumer added in CDK only receives events, and
 * CDK context changes the offline run exactly as it changes the deployment.
 */
describe('the offline runtime runs the synthesized template', () => {
  let runtime: LocalRuntime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('runs a consumer that an app adds in CDK only, with no change to the runtime', async () => {
    // Prepare: the orders stack plus an audit subscriber (test/fixtures/extra-consumer/app.ts).
    const outcomes: InvocationOutcome[] = [];
    runtime = await startLocalRuntime({
      appDir: EXTRA_CONSUMER_APP,
      apiPort: 0,
      dynamoDbPort: 0,
      onInvoke: (outcome) => outcomes.push(outcome),
    });

    // Act
    const orderId = await placeOrder(runtime);

    // Assess: both subscribers took the event, each under its own rule.
    expect(runtime.stackName).toBe('OrdersWithAudit');
    const audited = () => outcomes.find((o) => o.ok && o.path.includes('/Audit/'));
    await eventually(async () => audited() !== undefined);
    await eventually(async () => outcomes.some((o) => o.ok && o.path.includes('/Inventory/Consumer/')));
    const event = runtime.eventBus.events().find((e) => e.event.detail.aggregateId === orderId);
    expect(audited()?.result).toEqual({
      eventId: event?.event.detail.eventId,
      audited: 'OrderPlaced',
      duplicate: false,
    });
  });

  it('follows CDK context: another source, no delivery tracking, TTL armed at write time', async () => {
    // Prepare: what `npm start -- -c eventSource=shop -c deliveryTracking=false` passes.
    const inventory: DeliveryResult[] = [];
    runtime = await startLocalRuntime({
      apiPort: 0,
      dynamoDbPort: 0,
      context: { eventSource: 'shop', deliveryTracking: 'false' },
      onInvoke: (outcome) => {
        if (outcome.ok && outcome.path.includes('/Inventory/Consumer/'))
          inventory.push(outcome.result as DeliveryResult);
      },
    });

    // Act
    const orderId = await placeOrder(runtime);

    // Assess: the event carries the new source; the inventory rule follows it.
    await eventually(async () => inventory.some((r) => r.orderId === orderId));
    expect(inventory.find((r) => r.orderId === orderId)).toMatchObject({
      outcome: 'reserved',
      duplicate: false,
    });
    // The orders outbox publishes with the new source; inventory's answers keep their own.
    const sources = runtime.eventBus.events().map((e) => [e.event['detail-type'], e.event.source]);
    expect(sources).toContainEqual(['OrderPlaced', 'shop']);
    expect(
      sources.every(([type, source]) => source === (String(type).startsWith('Stock') ? 'inventory' : 'shop')),
    ).toBe(true);
    // No tracking: no reconciler in the stack, and the item is written with its TTL, unmarked.
    expect(runtime.functions.some((fn) => fn.definition.path.includes('/Reconciler/'))).toBe(false);
    const { Item } = await DynamoDBDocumentClient.from(runtime.dynamoDb.client).send(
      new GetCommand({
        TableName: runtime.tableName('Orders/Table'),
        Key: orderOutboxKey(orderId, 1),
        ConsistentRead: true,
      }),
    );
    expect(Item?.expiresAt).toBeGreaterThan(Date.now() / 1000 + 6 * 86_400);
    expect(Item?.outboxMinute).toBeUndefined();
    expect(Item?.publishedAt).toBeUndefined();
  });

  it('stops start-up naming what it cannot run', async () => {
    await expect(startLocalRuntime({ apiPort: 0, dynamoDbPort: 0, stack: 'NoSuchStack' })).rejects.toThrow(
      /No stack NoSuchStack in the app; it has DynamoDbOutbox-dev/,
    );
  });
});
