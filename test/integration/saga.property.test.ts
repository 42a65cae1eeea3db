import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInventoryConsumer } from '../../lambdas/inventory/consumer';
import { INVENTORY_SOURCE } from '../../lambdas/inventory/events';
import { InventoryStore } from '../../lambdas/inventory/inventory-store';
import { stockKey } from '../../lambdas/inventory/tables';
import { DynamoDbOrderStore } from '../../lambdas/orders/adapters/dynamodb-order-store';
import { cancelOrderUseCase } from '../../lambdas/orders/application/cancel-order';
import { placeOrderUseCase } from '../../lambdas/orders/application/place-order';
import { createAnswersConsumer } from '../../lambdas/orders/saga/answers';
import { sweepDeadline } from '../../lambdas/orders/saga/deadline';
import { ordersOutboxLayout } from '../../lambdas/orders/table';
import { localClientConfig } from '../../packages/dynamodb-outbox/src/local/clients';
import type { DynamoDbLocal } from '../../packages/dynamodb-outbox/src/local/dynamodb';
import { type EventEnvelope, toEnvelope } from '../../packages/dynamodb-outbox/src/runtime/envelope';
import { OutboxWriter } from '../../packages/dynamodb-outbox/src/runtime/writer';
import { startTestDynamoDb } from '../../packages/dynamodb-outbox/test/support/dynamodb-local';
import { createInventoryTables, inventoryConsumerSettings } from '../support/inventory-tables';
import { testOrdersSettings } from '../support/orders-settings';
import { createOrdersTable } from '../support/orders-table';

/**
 * The order saga under every interleaving fast-check can think of: both services' real handlers on
 * DynamoDB Local (real transactions and conditions), driven by a scheduler that delivers the
 * published events in any order, delivers some twice, cancels orders at any point, lets the
 * deadline pass before answers arrive, and crashes transactions just before or just after they
 * commit (the invocation fails and its event is delivered again, as Lambda retries it).
 *
 * RUNS scenarios per test run (about 0.3 s each on a 2-core machine, 30 s in all); every run has fresh tables.
 */
const RUNS = 100;
const DEADLINE_SECONDS = 60;
const SKUS = ['SKU-1', 'SKU-2', 'SKU-3'] as const;
/** Not in the catalogue and never stocked: an order naming it is rejected with unknown-sku. */
const UNKNOWN_SKU = 'BOOK-1';

const lineArb = fc.record({
  sku: fc.oneof(
    { weight: 9, arbitrary: fc.constantFrom(...SKUS) },
    { weight: 1, arbitrary: fc.constant(UNKNOWN_SKU) },
  ),
  quantity: fc.integer({ min: 1, max: 4 }),
});

/** One step of the scheduler. */
const stepArb = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat(), twice: fc.boolean() }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), order: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deadline' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('crash' as const), when: fc.constantFrom('before', 'after') }),
  },
);

const scenarioArb = fc.record({
  /** Units of each SKU before the run: few, so that orders compete for them. */
  stock: fc.tuple(
    fc.integer({ min: 0, max: 15 }),
    fc.integer({ min: 0, max: 15 }),
    fc.integer({ min: 0, max: 15 }),
  ),
  orders: fc.array(fc.array(lineArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }),
  steps: fc.array(stepArb, { maxLength: 40 }),
});
type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

interface Delivery {
  readonly target: 'inventory' | 'answers';
  readonly input: unknown;
}

/** Which consumer the bus hands an event to (the subscriptions), or none. */
const targetOf = (eventType: string): Delivery['target'] | undefined =>
  ['OrderPlaced', 'OrderCancelled', 'OrderRejected'].includes(eventType)
    ? 'inventory'
    : ['StockReserved', 'StockRejected'].includes(eventType)
      ? 'answers'
      : undefined;

/** What one run found, for the assertions and the counts reported with them. */
interface RunReport {
  readonly failures: number;
  readonly duplicates: number;
}

describe('the order saga under random interleavings (fast-check, DynamoDB Local)', () => {
  let db: DynamoDbLocal;
  const totals = { runs: 0, failures: 0, duplicates: 0, statuses: new Map<string, number>() };

  beforeAll(async () => {
    db = await startTestDynamoDb();
  });
  afterAll(async () => {
    await db?.stop();
  });

  const runScenario = async (scenario: Scenario): Promise<RunReport> => {
    let nowMs = Date.parse('2026-12-01T10:00:00.000Z');
    const clock = { now: () => new Date(nowMs).toISOString() };
    const ids = { next: () => ulid(nowMs) };

    // A client whose next TransactWriteItems can be made to fail just before or just after it commits.
    let crash: 'before' | 'after' | undefined;
    const client = new DynamoDBClient(localClientConfig(db.endpoint));
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'TransactWriteItemsCommand' || crash === undefined) return next(args);
        const when = crash;
        crash = undefined;
        if (when === 'before') throw new Error('crash before commit');
        await next(args);
        throw new Error('crash after commit');
      },
      { step: 'initialize', name: 'crashInjection' },
    );
    const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });

    const ordersTable = await createOrdersTable(db.client);
    const suffix = randomUUID().slice(0, 8);
    const inventoryNames = { inventory: `inventory-${suffix}`, outbox: `inventory-outbox-${suffix}` };
    await createInventoryTables(db.client, inventoryNames);

    const ordersSettings = testOrdersSettings(ordersTable);
    const orderStore = new DynamoDbOrderStore(doc, {
      tableName: ordersTable,
      outbox: new OutboxWriter(ordersSettings.outbox, { now: () => new Date(nowMs) }),
    });
    const inventoryStore = new InventoryStore(doc, inventoryNames.inventory);
    const consumers = {
      inventory: createInventoryConsumer({
        store: inventoryStore,
        settings: inventoryConsumerSettings(inventoryNames),
        dynamoDb: client,
        now: () => new Date(nowMs),
        logger: silent,
      }),
      answers: createAnswersConsumer({
        store: orderStore,
        tableName: ordersTable,
        clock,
        ids,
        settings: { inboxTtlSeconds: 3600, outbox: ordersSettings.outbox },
        dynamoDb: client,
        logger: silent,
      }),
    };
    const initial = new Map(SKUS.map((sku, i) => [sku, scenario.stock[i] ?? 0]));
    for (const [sku, available] of initial) await inventoryStore.setStock(sku, available);

    // The bus: every outbox item of either service is published once, when the "relay" finds it.
    const published = new Map<string, number>();
    const pool: Delivery[] = [];
    const relay = async () => {
      const items = [
        ...(await scanAll(doc, ordersTable)).filter((i) =>
          String(i.SK).startsWith(ordersOutboxLayout.sortKeyPrefix),
        ),
        ...(await scanAll(doc, inventoryNames.outbox)).filter((i) => i.eventType !== undefined),
      ];
      for (const item of items) {
        const envelope = toEnvelope(item as unknown as EventEnvelope);
        if (published.has(envelope.eventId)) continue;
        published.set(envelope.eventId, (published.get(envelope.eventId) ?? 0) + 1);
        const target = targetOf(envelope.eventType);
        const source = envelope.aggregateType === 'Order' ? 'orders' : INVENTORY_SOURCE;
        if (target)
          pool.push({
            target,
            input: { id: randomUUID(), 'detail-type': envelope.eventType, source, detail: envelope },
          });
      }
      return items;
    };

    let failures = 0;
    let duplicates = 0;
    const deliver = async (delivery: Delivery) => {
      try {
        const result = await consumers[delivery.target](delivery.input);
        if (result.duplicate) duplicates++;
      } catch {
        // The invocation failed (a crash, a lost race past its retries): Lambda delivers it again.
        failures++;
        pool.push(delivery);
      } finally {
        crash = undefined;
      }
    };
    const checkStock = async () => {
      const levels = await stockLevels(doc, inventoryNames.inventory);
      for (const [sku, available] of levels)
        expect(available, `${sku} went negative`).toBeGreaterThanOrEqual(0);
    };
    const sweep = async () => {
      try {
        await sweepDeadline({
          store: orderStore,
          placedBefore: (cutoff, limit) => orderStore.placedBefore(cutoff, limit),
          clock,
          ids,
          deadlineSeconds: DEADLINE_SECONDS,
        });
      } catch {
        failures++; // a crashed sweep; the next scheduled run takes its orders
      } finally {
        crash = undefined;
      }
    };

    // Place the orders (the API's use case, as POST /orders runs it).
    const orderIds: string[] = [];
    for (const lines of scenario.orders) {
      const command = {
        customerId: 'c-1',
        currency: 'EUR',
        lines: lines.map((l) => ({ ...l, unitPrice: 100 })),
      };
      const placed = await placeOrderUseCase({ store: orderStore, clock, ids }, { command });
      orderIds.push(placed.order.orderId);
    }
    await relay();

    for (const step of scenario.steps) {
      nowMs += 1000;
      if (step.kind === 'crash') crash = step.when;
      else if (step.kind === 'cancel') {
        const orderId = orderIds[step.order % orderIds.length] ?? '';
        await cancelOrderUseCase({ store: orderStore, clock, ids }, { orderId }).catch(() => undefined);
        crash = undefined;
      } else if (step.kind === 'deadline') {
        nowMs += (DEADLINE_SECONDS + 1) * 1000;
        await sweep();
      } else if (pool.length > 0) {
        const [delivery] = pool.splice(step.pick % pool.length, 1);
        if (delivery) {
          if (step.twice) pool.push(delivery);
          await deliver(delivery);
        }
      }
      await relay();
      await checkStock();
    }

    // Drain: the deadline passes, and every event still in flight arrives (in the order left).
    nowMs += (DEADLINE_SECONDS + 1) * 1000;
    await sweep();
    for (let round = 0; round < 200 && (pool.length > 0 || round === 0); round++) {
      const delivery = pool.shift();
      if (delivery) await deliver(delivery);
      await relay();
    }
    expect(pool, 'events still undelivered after the drain').toEqual([]);

    // Every order is terminal.
    const ordersItems = await scanAll(doc, ordersTable);
    const orders = ordersItems.filter((i) => i.SK === 'ORDER');
    expect(orders).toHaveLength(orderIds.length);
    for (const order of orders) {
      expect(['CONFIRMED', 'REJECTED', 'CANCELLED']).toContain(order.status);
      totals.statuses.set(String(order.status), (totals.statuses.get(String(order.status)) ?? 0) + 1);
    }

    // Stock never negative, and held exactly for the confirmed (not cancelled) orders.
    await checkStock();
    const levels = await stockLevels(doc, inventoryNames.inventory);
    for (const sku of SKUS) {
      const held = orders
        .filter((o) => o.status === 'CONFIRMED')
        .flatMap((o) => o.lines as Array<{ sku: string; quantity: number }>)
        .filter((l) => l.sku === sku)
        .reduce((sum, l) => sum + l.quantity, 0);
      expect((initial.get(sku) ?? 0) - (levels.get(sku) ?? 0), `units of ${sku} held`).toBe(held);
    }
    expect(levels.has(UNKNOWN_SKU)).toBe(false);

    // Every effect once: each order's events are its versions 1..n, each once; inventory emitted at
    // most one answer and one release per order, and a release only after a reservation.
    const outboxItems = ordersItems.filter((i) => String(i.SK).startsWith(ordersOutboxLayout.sortKeyPrefix));
    for (const order of orders) {
      const sequences = outboxItems
        .filter((i) => i.aggregateId === order.orderId)
        .map((i) => Number(i.sequence))
        .sort((a, b) => a - b);
      expect(sequences).toEqual(Array.from({ length: Number(order.version) }, (_, i) => i + 1));
    }
    // Inbox records share the outbox table; they carry no eventType.
    const inventoryEvents = (await scanAll(doc, inventoryNames.outbox)).filter(
      (i) => i.eventType !== undefined,
    );
    for (const orderId of orderIds) {
      const types = inventoryEvents.filter((e) => e.aggregateId === orderId).map((e) => String(e.eventType));
      const answers = types.filter((t) => t === 'StockReserved' || t === 'StockRejected');
      expect(answers.length, `answers for ${orderId}`).toBeLessThanOrEqual(1);
      const released = types.filter((t) => t === 'StockReleased').length;
      expect(released).toBeLessThanOrEqual(types.includes('StockReserved') ? 1 : 0);
      const order = orders.find((o) => o.orderId === orderId);
      // Confirmed ⇔ inventory reserved and did not release.
      expect(order?.status === 'CONFIRMED').toBe(types.includes('StockReserved') && released === 0);
    }

    // Every event reached the bus exactly once per commit: each outbox item published once, and
    // nothing published that no commit wrote.
    const committed = [...outboxItems, ...inventoryEvents].map((i) => String(i.eventId));
    expect(new Set(committed).size).toBe(committed.length);
    expect([...published.keys()].sort()).toEqual([...committed].sort());
    expect([...published.values()].every((n) => n === 1)).toBe(true);

    client.destroy();
    return { failures, duplicates };
  };

  it(`ends every order terminal with stock consistent, in ${RUNS} random runs`, async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const report = await runScenario(scenario);
        totals.runs++;
        totals.failures += report.failures;
        totals.duplicates += report.duplicates;
      }),
      { numRuns: RUNS },
    );
    // The scheduler exercised what it is for: crashes retried, duplicates acknowledged, every end state.
    expect(totals.runs).toBeGreaterThanOrEqual(RUNS);
    expect(totals.failures).toBeGreaterThan(0);
    expect(totals.duplicates).toBeGreaterThan(0);
    for (const status of ['CONFIRMED', 'REJECTED', 'CANCELLED'])
      expect(totals.statuses.get(status)).toBeGreaterThan(0);
  }, 180_000);
});

const silent = {
  info: () => {},
  warn: () => {},
  error: () => {},
  appendKeys: () => {},
  removeKeys: () => {},
};

const scanAll = async (
  doc: DynamoDBDocumentClient,
  tableName: string,
): Promise<Record<string, unknown>[]> => {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
};

const stockLevels = async (doc: DynamoDBDocumentClient, tableName: string): Promise<Map<string, number>> => {
  const { Responses } = await doc.send(
    new BatchGetCommand({
      RequestItems: { [tableName]: { Keys: [...SKUS, UNKNOWN_SKU].map(stockKey), ConsistentRead: true } },
    }),
  );
  return new Map((Responses?.[tableName] ?? []).map((i) => [String(i.sku), Number(i.available)]));
};
