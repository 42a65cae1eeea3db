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
      // Each order ends as the saga answers it: cancelled (every 5th), rejected (SKU-0 is not in
      // the catalogue) or confirmed; every one of its events, the answers' included, is the relay's.
      const finalType = (i: number) =>
        i % CANCEL_EVERY === 0 ? 'OrderCancelled' : i % 7 === 0 ? 'OrderRejected' : 'OrderConfirmed';
      const doc = DynamoDBDocumentClient.from(runtime.dynamoDb.client);
      const orderEvents = () => {
        const byOrder = new Map<string, { sequence: number; type: string }[]>();
        for (const { event } of runtime.eventBus.events()) {
          const detail = event.detail as {
            aggregateType: string;
            aggregateId: string;
            sequence: number;
            eventType: string;
          };
          expect(event['detail-type']).toBe(detail.eventType);
          if (detail.aggregateType !== 'Order') continue;
          byOrder.set(detail.aggregateId, [
            ...(byOrder.get(detail.aggregateId) ?? []),
            { sequence: detail.sequence, type: detail.eventType },
          ]);
        }
        for (const events of byOrder.values()) events.sort((a, b) => a.sequence - b.sequence);
        return byOrder;
      };
      await vi.waitFor(
        async () => {
          const byOrder = orderEvents();
          expect(orderIds.map((orderId) => byOrder.get(orderId)?.at(-1)?.type)).toEqual(
            orderIds.map((_, i) => finalType(i)),
          );
          const items = await scanOutboxItems(doc, runtime.tableName('Orders/Table'));
          expect(
            items.filter((item) => !runtime.eventBus.detailEventIdCounts().has(item.eventId as string)),
          ).toEqual([]);
        },
        { timeout: BUDGET_MS, interval: 200 },
      );
      const elapsed = Date.now() - started;

      // Assess: the bus holds exactly the orders' outbox, once.
      const Items = await scanOutboxItems(doc, runtime.tableName('Orders/Table'));
      const counts = runtime.eventBus.detailEventIdCounts();
      expect(Items.map((item) => counts.get(item.eventId as string))).toEqual(Items.map(() => 1));
      expect(runtime.eventBus.stats.duplicateDetailEventIds).toBe(0);
      const byOrder = orderEvents();
      expect(byOrder.size).toBe(ORDERS);
      expect([...byOrder.values()].reduce((sum, events) => sum + events.length, 0)).toBe(Items.length);
      orderIds.forEach((orderId, i) => {
        const events = byOrder.get(orderId) ?? [];
        // Gap-free from OrderPlaced; a cancel may follow the confirmation or overtake the answer.
        expect(events.map((e) => e.sequence)).toEqual(events.map((_, n) => n + 1));
        expect(events[0]?.type).toBe('OrderPlaced');
        expect(events.at(-1)?.type).toBe(finalType(i));
      });
      const expectedEvents = Items.length;
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
