import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryResult } from '../../lambdas/inventory/consumer';
import { DynamoDbReservationStore } from '../../lambdas/inventory/reservation-store';
import { type LocalRuntime, startLocalRuntime } from '../../packages/dynamodb-outbox/src/local/runtime';
import { eventually } from './consumer-support';

const ORDERS = 200;
const CANCELLED = 50;
const SKUS = ['SKU-A', 'SKU-B', 'SKU-C', 'SKU-D', 'SKU-E'];

/** Order n buys (n % 3) + 1 of one sku and 1 of the next: enough sharing to contend. */
const linesOf = (n: number) => [
  { sku: SKUS[n % SKUS.length] ?? 'SKU-A', quantity: (n % 3) + 1 },
  { sku: SKUS[(n + 1) % SKUS.length] ?? 'SKU-A', quantity: 1 },
];

const inParallel = async <T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>) => {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) await fn(next);
    }),
  );
};

describe('orders → relay → bus (every event delivered 2-3 times, shuffled) → inventory', () => {
  let runtime: LocalRuntime;
  let store: DynamoDbReservationStore;
  let inventoryTable: string;
  /** The inventory consumer's successful invocations, as the template wires it. */
  const deliveries: DeliveryResult[] = [];
  const orders: Array<{ orderId: string; n: number }> = [];

  beforeAll(async () => {
    runtime = await startLocalRuntime({
      apiPort: 0,
      dynamoDbPort: 0,
      onInvoke: (outcome) => {
        if (!outcome.path.includes('/Inventory/Consumer/')) return;
        if (outcome.ok) deliveries.push(outcome.result as DeliveryResult);
      },
    });
    inventoryTable = runtime.tableName('Inventory/Table');
    store = new DynamoDbReservationStore(
      DynamoDBDocumentClient.from(runtime.dynamoDb.client),
      inventoryTable,
    );
    runtime.eventBus.setFaults({ duplicateDeliveryRate: 1, maxDeliveryCopies: 3, shuffleDeliveryMs: 250 });
  });
  afterAll(async () => {
    await runtime?.stop();
  });

  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${runtime.apiUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBeLessThan(300);
    return (await response.json()) as { orderId: string };
  };

  it(`holds stock for exactly the ${ORDERS - CANCELLED} orders not cancelled, each event applied once`, async () => {
    // Act
    await inParallel(
      Array.from({ length: ORDERS }, (_, n) => n),
      8,
      async (n) => {
        const { orderId } = await post('/orders', {
          customerId: `customer-${n}`,
          currency: 'EUR',
          lines: linesOf(n).map((line) => ({ ...line, unitPrice: 500 })),
        });
        orders.push({ orderId, n });
      },
    );
    const cancelled = orders.slice(0, CANCELLED);
    await inParallel(cancelled, 8, ({ orderId }) => post(`/orders/${orderId}/cancel`, { reason: 'test' }));
    const events = ORDERS + CANCELLED;
    await eventually(async () => runtime.eventBus.detailEventIdCounts().size === events, 45_000);
    await eventually(async () => {
      await runtime.eventBus.idle();
      return deliveries.filter((d) => !d.duplicate).length === events;
    }, 45_000);

    // Assess: one first delivery per event, every other delivery recognised as a duplicate.
    const stats = runtime.eventBus.stats;
    const firsts = deliveries.filter((d) => !d.duplicate);
    expect(new Set(firsts.map((d) => d.eventId)).size).toBe(events);
    // EventBridge hands each copy to Lambda asynchronously; a copy that lost a race with its twin
    // (idempotency in progress) is retried by Lambda, so every copy ends in one success.
    await eventually(async () => deliveries.length === stats.deliveries, 45_000);
    expect(stats.targetFailures).toBe(0);
    expect(deliveries.length).toBeGreaterThanOrEqual(2 * events);
    expect(stats.deadLettered).toBe(0);

    // Exactly the orders not cancelled hold stock; the cancelled ones hold nothing.
    const { Items = [] } = await DynamoDBDocumentClient.from(runtime.dynamoDb.client).send(
      new ScanCommand({ TableName: inventoryTable, ConsistentRead: true }),
    );
    const records = Items.filter((i) => i.SK === 'RESERVATION');
    const held = records.filter((r) => r.state === 'RESERVED').map((r) => r.orderId as string);
    const cancelledIds = new Set(cancelled.map((c) => c.orderId));
    expect(held).toHaveLength(ORDERS - CANCELLED);
    expect(held.some((orderId) => cancelledIds.has(orderId))).toBe(false);
    expect(records.filter((r) => r.state === 'RELEASED' || r.state === 'CANCELLED')).toHaveLength(CANCELLED);
    for (const sku of SKUS) {
      const expected = orders
        .filter(({ orderId }) => !cancelledIds.has(orderId))
        .flatMap(({ n }) => linesOf(n))
        .filter((line) => line.sku === sku)
        .reduce((sum, line) => sum + line.quantity, 0);
      expect(await store.reservedQuantity(sku)).toBe(expected);
    }
  });
});
