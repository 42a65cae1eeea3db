import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replay } from '../../packages/dynamodb-outbox/src/cli/replay';
import type { OutboxTarget } from '../../packages/dynamodb-outbox/src/cli/target';
import { reconcile } from '../../packages/dynamodb-outbox/src/engine/reconciler';
import { StuckEvents } from '../../packages/dynamodb-outbox/src/engine/reconciler-retries';
import type { DynamoDbLocal } from '../../packages/dynamodb-outbox/src/local/dynamodb';
import { startTestDynamoDb } from '../../packages/dynamodb-outbox/test/support/dynamodb-local';
import { ordersOutboxLayout } from '../../packages/dynamodb-outbox/test/support/sample-table';
import { type InventoryFlow, startInventoryFlow } from './consumer-support';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('replay to the inventory consumer', () => {
  let db: DynamoDbLocal;
  let flow: InventoryFlow;
  let placedAt: Date;

  beforeAll(async () => {
    db = await startTestDynamoDb();
    flow = await startInventoryFlow(db);
    placedAt = new Date();
    const orderIds: string[] = [];
    for (let i = 0; i < 6; i++) orderIds.push(await flow.placeOrder([{ sku: 'SKU-9', quantity: i + 1 }]));
    for (const orderId of orderIds.slice(0, 2)) await flow.cancelOrder(orderId);
    // Publish through the reconciler's path to the local bus; the consumer applies each event once.
    await reconcile({
      ...flow.outbox(),
      stuck: new StuckEvents(flow.doc, { tableName: flow.tableName, layout: ordersOutboxLayout }),
      publisher: flow.publisher,
      poisonQueue: { send: async () => ({ sent: [], failed: [] }) },
      settings: { thresholdSeconds: 0, maxItemsPerRun: 1000, pageSize: 100 },
      metrics: { addMetric: () => undefined },
      logger: quiet,
      now: () => new Date(Date.now() + 60_000),
    });
    await flow.bus.idle();
  });
  afterAll(async () => {
    await flow?.stop();
    await db?.stop();
  });

  it('delivers every event again through the CLI, and the consumer applies none of them twice', async () => {
    // Prepare
    expect(flow.deliveries).toHaveLength(8);
    expect(flow.deliveries.filter((d) => d.duplicate)).toHaveLength(0);
    const states = await flow.reservationStates();
    const available = await flow.store.available('SKU-9');
    expect(states).toMatchObject({ RESERVED: 4 });
    expect(1000 - (available ?? 0)).toBe(3 + 4 + 5 + 6);
    // No stack outputs here: the rule is the subscription's own name on the local bus.
    const target = { replay: { kind: 'local', endpoint: flow.bus.endpoint, rules: {} } } as OutboxTarget;

    // Act: event times are whole seconds, so the range starts at the second the first was placed.
    const report = await replay(target, {
      from: new Date(Math.floor(placedAt.getTime() / 1000) * 1000),
      to: new Date(Date.now() + 1000),
      rule: 'inventory',
    });
    await flow.bus.idle();

    // Assess
    expect(report).toMatchObject({ state: 'COMPLETED', rules: ['inventory'], events: 8, deliveries: 8 });
    expect(flow.deliveries).toHaveLength(16);
    expect(flow.deliveries.slice(8).every((d) => d.duplicate)).toBe(true);
    expect(await flow.reservationStates()).toEqual(states);
    expect(await flow.store.available('SKU-9')).toBe(available);
    // Replayed events are not archived again: the history still holds the 8 originals.
    expect(flow.bus.events()).toHaveLength(8);
    expect(flow.bus.stats).toMatchObject({ replays: 1, eventsReplayed: 8 });
  });
});
