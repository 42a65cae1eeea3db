import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../src/local/runtime';
import { scanOutboxItems } from '../support/outbox-items';

const ORDERS = 500;
const CANCEL_EVERY = 5;
const CONCURRENCY = 8;
// Generous bounds for a loaded CI machine; on an idle one the run takes a fraction of this.
const BUDGET_MS = 90_000;

/** Run `task` for 0..count-1 with at most `limit` in flight. */
const pool = async (count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> => {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < count) await task(next++);
    }),
  );
};

const orderBody = (i: number) => ({
  customerId: `customer-${i}`,
  currency: 'EUR',
  lines: [{ sku: `SKU-${i % 7}`, quantity: 1 + (i % 3), unitPrice: 1000 + i }],
});

describe('relay offline: DynamoDB Local stream → relay handler → local EventBridge', () => {
  let runtime: LocalRuntime;

  beforeAll(async () => {
    runtime = await startLocalRuntime({ apiPort: 0, dynamoDbPort: 0 });
  });
  afterAll(async () => {
    await runtime?.stop();
  });

  it(
    `${ORDERS} orders (every ${CANCEL_EVERY}th cancelled) reach the bus: each event once, every order's sequence intact`,
    async () => {
      // Prepare
      const post = async (path: string, body: unknown): Promise<{ orderId: string }> => {
        const response = await fetch(`${runtime.apiUrl}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        if (response.status >= 300) throw new Error(`${path}: ${response.status} ${await response.text()}`);
        return (await response.json()) as { orderId: string };
      };
      const orderIds: string[] = [];
      const started = Date.now();

      // Act: the real API handler writes each order and its event in one transaction.
      await pool(ORDERS, CONCURRENCY, async (i) => {
        const { orderId } = await post('/orders', orderBody(i));
        orderIds[i] = orderId;
        if (i % CANCEL_EVERY === 0) await post(`/orders/${orderId}/cancel`, { reason: 'test' });
      });
      const cancelled = Math.ceil(ORDERS / CANCEL_EVERY);
      const expectedEvents = ORDERS + cancelled;
      await vi.waitFor(() => expect(runtime.eventBus.detailEventIdCounts().size).toBe(expectedEvents), {
        timeout: BUDGET_MS,
        interval: 50,
      });
      const elapsed = Date.now() - started;

      // Assess: the bus holds exactly the outbox, once.
      const doc = DynamoDBDocumentClient.from(runtime.dynamoDb.client);
      const Items = await scanOutboxItems(doc, runtime.tableName('Orders/Table'));
      expect(Items).toHaveLength(expectedEvents);
      const counts = runtime.eventBus.detailEventIdCounts();
      expect(new Set(counts.keys())).toEqual(new Set(Items.map((i) => i.eventId as string)));
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      expect(runtime.eventBus.stats.duplicateDetailEventIds).toBe(0);

      const byOrder = new Map<string, { sequence: number; type: string }[]>();
      for (const { event } of runtime.eventBus.events()) {
        const detail = event.detail as { aggregateId: string; sequence: number; eventType: string };
        expect(event['detail-type']).toBe(detail.eventType);
        byOrder.set(detail.aggregateId, [
          ...(byOrder.get(detail.aggregateId) ?? []),
          { sequence: detail.sequence, type: detail.eventType },
        ]);
      }
      expect(byOrder.size).toBe(ORDERS);
      orderIds.forEach((orderId, i) => {
        const events = [...(byOrder.get(orderId) ?? [])].sort((a, b) => a.sequence - b.sequence);
        expect(events).toEqual(
          i % CANCEL_EVERY === 0
            ? [
                { sequence: 1, type: 'OrderPlaced' },
                { sequence: 2, type: 'OrderCancelled' },
              ]
            : [{ sequence: 1, type: 'OrderPlaced' }],
        );
      });
      // Delivery tracking is on by default: a receipt names every published item, by its whole key.
      await vi.waitFor(
        async () => {
          const { Items: items = [] } = await doc.send(
            new ScanCommand({ TableName: runtime.tableName('Orders/Table'), ConsistentRead: true }),
          );
          const named = new Set(
            items
              .filter((item) => String(item.PK).startsWith('RECEIPT#'))
              .flatMap((receipt) => [...((receipt.published as Set<string> | undefined) ?? [])]),
          );
          const outbox = items.filter((item) => String(item.SK).startsWith('OUTBOX#'));
          expect(outbox).toHaveLength(expectedEvents);
          expect(outbox.filter((item) => !named.has(JSON.stringify([item.PK, item.SK])))).toEqual([]);
        },
        { timeout: 10_000, interval: 100 },
      );
      expect(runtime.queueMessages('Outbox/Relay/PoisonQueue')).toHaveLength(0);
      expect(runtime.mapping('Outbox/Relay').failures).toHaveLength(0);
      console.log(
        `relay: ${ORDERS} orders, ${expectedEvents} events on the bus in ${elapsed} ms, ` +
          `${runtime.eventBus.stats.calls} PutEvents calls, duplicates 0, lost 0`,
      );
    },
    2 * BUDGET_MS,
  );
});
