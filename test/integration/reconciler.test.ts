import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PoisonRecord } from '../../packages/dynamodb-outbox/src/engine/poison-queue';
import { type ReconcilerDeps, reconcile } from '../../packages/dynamodb-outbox/src/engine/reconciler';
import { StuckEvents } from '../../packages/dynamodb-outbox/src/engine/reconciler-retries';
import type { DynamoDbLocal } from '../../packages/dynamodb-outbox/src/local/dynamodb';
import { startTestDynamoDb } from '../../packages/dynamodb-outbox/test/support/dynamodb-local';
import { ordersOutboxLayout } from '../../packages/dynamodb-outbox/test/support/sample-table';
import { eventually, type InventoryFlow, startInventoryFlow } from './consumer-support';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('reconciler with the relay stopped', () => {
  let db: DynamoDbLocal;
  let flow: InventoryFlow;
  let deps: ReconcilerDeps;
  const orderIds: string[] = [];
  const parkedOnPoisonQueue: PoisonRecord[] = [];
  const metrics: Array<[string, number]> = [];

  beforeAll(async () => {
    db = await startTestDynamoDb();
    flow = await startInventoryFlow(db);
    deps = {
      ...flow.outbox(),
      stuck: new StuckEvents(flow.doc, { tableName: flow.tableName, layout: ordersOutboxLayout }),
      publisher: flow.publisher,
      poisonQueue: {
        send: async (records) => {
          parkedOnPoisonQueue.push(...records);
          return { sent: [...records], failed: [] };
        },
      },
      settings: { thresholdSeconds: 60, maxItemsPerRun: 1000, pageSize: 7 },
      metrics: { addMetric: (name, _unit, value) => metrics.push([name, value]) },
      logger: quiet,
      // Two minutes from now: every event written by the test is past the 60 s threshold.
      now: () => new Date(Date.now() + 120_000),
    };
    // The stream is never read: as if the relay were down past the stream's 24-hour retention.
    for (let i = 0; i < 20; i++) orderIds.push(await flow.placeOrder([{ sku: 'SKU-1', quantity: 2 }]));
    for (const orderId of orderIds.slice(0, 5)) await flow.cancelOrder(orderId);
  });
  afterAll(async () => {
    await flow?.stop();
    await db?.stop();
  });

  it('republishes every pending event; each reaches the consumer, and takes effect, once', async () => {
    // Prepare
    expect(await flow.pendingCount()).toBe(25);

    // Act
    const report = await reconcile(deps);
    await flow.bus.idle();

    // Assess
    expect(report).toMatchObject({ found: 25, republished: 25, retryable: 0, parked: 0, truncated: false });
    expect(metrics).toEqual([
      ['ReconcilerRepublished', 25],
      ['ReconcilerParkedAfterRetries', 0],
      ['ReconcilerStuckEvents', 0],
    ]);
    expect(flow.bus.stats.eventsAccepted).toBe(25);
    expect([...flow.bus.detailEventIdCounts().values()].every((n) => n === 1)).toBe(true);
    expect(flow.deliveries.filter((d) => d.duplicate)).toHaveLength(0);
    // The index is read partition by partition, so a cancel may be republished before its place: either
    // way the cancelled orders hold nothing (RELEASED, or CANCELLED before it was placed).
    const states = await flow.reservationStates();
    expect(states.RESERVED).toBe(15);
    expect((states.RELEASED ?? 0) + (states.CLOSED ?? 0)).toBe(5);
    expect(await flow.store.available('SKU-1')).toBe(1000 - 30);
    expect(parkedOnPoisonQueue).toHaveLength(0);
  });

  it('records them in receipts, leaving the items as written (TTL armed at write), so the next run finds nothing', async () => {
    // Act
    const report = await reconcile(deps);

    // Assess
    expect(report).toMatchObject({ found: 0, republished: 0 });
    expect(await flow.pendingCount()).toBe(0);
    const orderId = orderIds[0] ?? '';
    const { Items = [] } = await flow.doc.send(
      new QueryCommand({
        TableName: flow.tableName,
        KeyConditionExpression: 'PK = :pk AND begins_with(SK, :outbox)',
        ExpressionAttributeValues: { ':pk': `ORDER#${orderId}`, ':outbox': 'OUTBOX#' },
        ConsistentRead: true,
      }),
    );
    expect(Items).toHaveLength(2);
    for (const item of Items) {
      expect(item.publishedAt).toBeUndefined();
      expect(typeof item.outboxMinute).toBe('string');
      expect(item.expiresAt).toBeGreaterThan(Date.now() / 1000 + 6 * 86_400);
    }
    const minute = String(Items[0]?.outboxMinute).split('#')[0];
    const receipts = await flow.doc.send(
      new QueryCommand({
        TableName: flow.tableName,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': `RECEIPT#${minute}` },
        ConsistentRead: true,
      }),
    );
    const named = (receipts.Items ?? []).flatMap((r) => [
      ...((r.published as Set<string> | undefined) ?? []),
    ]);
    expect(named).toEqual(expect.arrayContaining(Items.map((i) => JSON.stringify([i.PK, i.SK]))));
  });

  it('leaves events younger than the threshold to the relay', async () => {
    // Prepare
    const fresh = await flow.placeOrder([{ sku: 'SKU-2', quantity: 1 }]);

    // Act
    const report = await reconcile({ ...deps, now: () => new Date() });

    // Assess
    expect(report.found).toBe(0);
    expect(await flow.pendingCount()).toBe(1);
    await reconcile(deps);
    await flow.bus.idle();
    await eventually(async () => (await flow.store.available('SKU-2')) === 1000 - 1);
    expect(fresh).toBeTruthy();
  });
});
