import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../src/local/runtime';
import { scanOutboxItems } from '../support/outbox-items';

const ORDERS = 500;
const CONCURRENCY = 8;
// Generous bounds for a loaded CI machine; on an idle one the run takes a fraction of this.
const BUDGET_MS = 90_000;
const RESTART_AFTER_EVENTS = 200;

const pool = async (count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> => {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < count) await task(next++);
    }),
  );
};

describe('relay offline under faults: nothing is lost', () => {
  let runtime: LocalRuntime;

  beforeAll(async () => {
    runtime = await startLocalRuntime({
      apiPort: 0,
      dynamoDbPort: 0,
      eventBusOptions: {
        seed: 20261122,
        // 20% of entries fail (throttled or internal error); some calls start a burst of 3
        // throttled calls; a few calls fail with HTTP 500.
        faults: { entryFailureRate: 0.2, throttleRate: 0.1, throttleBurstCalls: 3, serverErrorRate: 0.02 },
      },
      // Retries stay quick so the run fits the test budget; the logic is the deployed one.
      pollerTiming: { retryDelayMs: 20, maxRetryDelayMs: 500 },
    });
  });
  afterAll(async () => {
    await runtime?.stop();
  });

  it(
    `every event of ${ORDERS} orders reaches the bus at least once despite failing entries, throttling and a relay crash`,
    async () => {
      // Prepare
      const relay = runtime.mapping('Outbox/Relay');
      const bus = runtime.eventBus;
      const started = Date.now();
      let crashes = 0;

      // Act: place orders while the relay runs; crash and restart it mid-stream.
      const placing: Promise<void> = pool(ORDERS, CONCURRENCY, async (i) => {
        const response = await fetch(`${runtime.apiUrl}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            customerId: `customer-${i}`,
            currency: 'EUR',
            lines: [{ sku: `SKU-${i % 7}`, quantity: 1, unitPrice: 500 + i }],
          }),
        });
        if (response.status !== 201)
          throw new Error(`POST /orders: ${response.status} ${await response.text()}`);
      });
      await vi.waitFor(
        () => expect(bus.detailEventIdCounts().size).toBeGreaterThanOrEqual(RESTART_AFTER_EVENTS),
        {
          timeout: BUDGET_MS,
          interval: 20,
        },
      );
      await relay.restart({ crash: true });
      crashes++;
      await placing;
      // The orders table's outbox holds each order's OrderPlaced and, as the saga answers, its
      // OrderConfirmed or OrderRejected: every one of them is the relay's to deliver.
      const doc = DynamoDBDocumentClient.from(runtime.dynamoDb.client);
      const outboxItems = () => scanOutboxItems(doc, runtime.tableName('Orders/Table'));
      const notOnTheBus = async () =>
        (await outboxItems()).filter((item) => !bus.detailEventIdCounts().has(item.eventId as string));
      await vi.waitFor(async () => expect(await notOnTheBus()).toEqual([]), {
        timeout: BUDGET_MS,
        interval: 200,
      });
      const elapsed = Date.now() - started;

      // Assess: every committed event is on the bus; none parked or discarded.
      const Items = await outboxItems();
      const placed = Items.filter((item) => item.eventType === 'OrderPlaced');
      expect(placed).toHaveLength(ORDERS);
      const counts = bus.detailEventIdCounts();
      const lost = Items.filter((item) => !counts.has(item.eventId as string));
      expect(lost).toEqual([]);
      for (const { event } of bus.events())
        if (event['detail-type'] === 'OrderPlaced') expect(event.detail.sequence).toBe(1);
      expect(runtime.queueMessages('Outbox/Relay/PoisonQueue')).toHaveLength(0);
      expect(relay.failures).toHaveLength(0);
      // The faults really happened.
      expect(bus.stats.injectedEntryFailures).toBeGreaterThan(0);
      expect(bus.stats.throttledCalls).toBeGreaterThan(0);

      const duplicates = [...counts.values()].reduce((sum, n) => sum + n - 1, 0);
      expect(duplicates).toBe(bus.stats.duplicateDetailEventIds);
      console.log(
        `relay under faults: ${ORDERS} orders, ${Items.length} events committed; faults injected: ` +
          `${bus.stats.injectedEntryFailures} failed entries (${JSON.stringify(bus.stats.failedEntries)}), ` +
          `${bus.stats.throttledCalls} throttled calls, ${bus.stats.serverErrorCalls} HTTP 500 calls, ` +
          `${crashes} relay crash; ${bus.stats.calls} PutEvents calls; delivered ${Items.length - lost.length}/${Items.length} outbox events, ` +
          `lost ${lost.length}, duplicated ${duplicates} (${[...counts.values()].filter((n) => n > 1).length} events ` +
          `more than once); ${elapsed} ms`,
      );
    },
    2 * BUDGET_MS,
  );
});
