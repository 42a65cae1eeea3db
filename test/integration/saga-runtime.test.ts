import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryResult } from '../../lambdas/inventory/consumer';
import { stockKey } from '../../lambdas/inventory/tables';
import type { AnswerDeliveryResult } from '../../lambdas/orders/saga/answers';
import { type LocalRuntime, startLocalRuntime } from '../../packages/dynamodb-outbox/src/local/runtime';
import { eventually } from './consumer-support';

const ORDERS = 40;
const CANCELLED = 10;
const SKUS = ['SKU-21', 'SKU-22', 'SKU-23'];
/** Units of SKU-21 before the run: fewer than the orders want, so some are rejected for stock. */
const SCARCE = 12;

/** Order n buys (n % 3) + 1 of one sku and 1 of the next; every 13th names a SKU nobody stocks. */
const linesOf = (n: number) =>
  n % 13 === 5
    ? [{ sku: 'BOOK-1', quantity: 1 }]
    : [
        { sku: SKUS[n % SKUS.length] ?? 'SKU-21', quantity: (n % 3) + 1 },
        { sku: SKUS[(n + 1) % SKUS.length] ?? 'SKU-21', quantity: 1 },
      ];

interface OrderBody {
  readonly orderId: string;
  readonly status: string;
  readonly rejectionReason?: string;
  readonly lines: ReadonlyArray<{ sku: string; quantity: number }>;
}

/**
 * The saga offline, as `npm start` runs it: the real template's functions on DynamoDB Local, the
 * local bus delivering every event 2-3 times in shuffled order, cancels racing the answers. Every
 * order ends CONFIRMED, REJECTED or CANCELLED, stock is held exactly for the confirmed ones, and
 * a replay of the bus's whole history changes nothing.
 */
describe('the order saga in the offline runtime, every event delivered 2-3 times, shuffled', () => {
  let runtime: LocalRuntime;
  let doc: DynamoDBDocumentClient;
  const inventoryResults: DeliveryResult[] = [];
  const answerResults: AnswerDeliveryResult[] = [];
  const orderIds: string[] = [];

  beforeAll(async () => {
    runtime = await startLocalRuntime({
      apiPort: 0,
      dynamoDbPort: 0,
      onInvoke: (outcome) => {
        if (!outcome.ok) return;
        if (outcome.path.includes('/Inventory/Consumer/'))
          inventoryResults.push(outcome.result as DeliveryResult);
        if (outcome.path.includes('/Saga/Answers/'))
          answerResults.push(outcome.result as AnswerDeliveryResult);
      },
    });
    doc = DynamoDBDocumentClient.from(runtime.dynamoDb.client);
    runtime.eventBus.setFaults({ duplicateDeliveryRate: 1, maxDeliveryCopies: 3, shuffleDeliveryMs: 250 });
  });
  afterAll(async () => {
    await runtime?.stop();
  });

  const request = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${runtime.apiUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as OrderBody };
  };
  const orders = async () =>
    Promise.all(orderIds.map(async (orderId) => (await request('GET', `/orders/${orderId}`)).body));
  const stock = async () => {
    const tableName = runtime.tableName('Inventory/Table');
    const { Responses } = await doc.send(
      new BatchGetCommand({
        RequestItems: { [tableName]: { Keys: SKUS.map(stockKey), ConsistentRead: true } },
      }),
    );
    return new Map((Responses?.[tableName] ?? []).map((item) => [String(item.sku), Number(item.available)]));
  };
  /** Units held per SKU by the confirmed orders. */
  const heldByConfirmed = (all: readonly OrderBody[]) =>
    new Map(
      SKUS.map((sku) => [
        sku,
        all
          .filter((o) => o.status === 'CONFIRMED')
          .flatMap((o) => o.lines)
          .filter((l) => l.sku === sku)
          .reduce((sum, l) => sum + l.quantity, 0),
      ]),
    );
  const consistent = async () => {
    const [all, levels] = await Promise.all([orders(), stock()]);
    const held = heldByConfirmed(all);
    return SKUS.every(
      (sku) => (sku === 'SKU-21' ? SCARCE : 1000) - (levels.get(sku) ?? 1000) === held.get(sku),
    );
  };

  it('ends every order terminal with stock held exactly for the confirmed ones', async () => {
    // Prepare: the scarce SKU's stock, set through the documented function.
    expect(await runtime.function('StockLevel').invoke({ sku: 'SKU-21', available: SCARCE })).toEqual({
      sku: 'SKU-21',
      available: SCARCE,
    });

    // Act: place the orders, and cancel some at once, racing inventory's answers.
    for (let n = 0; n < ORDERS; n++) {
      const placed = await request('POST', '/orders', {
        customerId: `customer-${n}`,
        currency: 'EUR',
        lines: linesOf(n).map((line) => ({ ...line, unitPrice: 500 })),
      });
      expect(placed.status).toBe(201);
      orderIds.push(placed.body.orderId);
    }
    const cancels = await Promise.all(
      orderIds.slice(0, CANCELLED).map((orderId) => request('POST', `/orders/${orderId}/cancel`, {})),
    );
    // A cancel finds the order PLACED or CONFIRMED (200), or already REJECTED (409).
    for (const cancel of cancels) expect([200, 409]).toContain(cancel.status);
    await eventually(async () => (await orders()).every((o) => o.status !== 'PLACED'), 45_000);
    await eventually(async () => {
      await runtime.eventBus.idle();
      return consistent();
    }, 45_000);

    // Assess
    const all = await orders();
    const byStatus = (status: string) => all.filter((o) => o.status === status);
    expect(byStatus('CONFIRMED').length).toBeGreaterThan(0);
    expect(byStatus('REJECTED').map((o) => o.rejectionReason)).toEqual(
      expect.arrayContaining(['unknown-sku', 'insufficient-stock']),
    );
    expect(byStatus('CANCELLED').length).toBe(cancels.filter((c) => c.status === 200).length);
    for (const [sku, available] of await stock()) expect(available, sku).toBeGreaterThanOrEqual(0);
    // Every event's first delivery had its effect; every other copy was a duplicate.
    expect(inventoryResults.some((r) => r.duplicate)).toBe(true);
    expect(answerResults.some((r) => r.duplicate)).toBe(true);
    expect(runtime.eventBus.stats.deadLettered).toBe(0);
    const published = [...runtime.eventBus.detailEventIdCounts().keys()];
    expect(new Set(published).size).toBe(published.length);
    // The deadline sweeper runs on the template's placed-orders index: nothing waited 5 minutes.
    expect(await runtime.function('DeadlineSweeper').invoke({})).toEqual({ rejected: 0, answered: 0 });
  });

  it('changes nothing when the whole history is replayed', async () => {
    // Prepare
    await runtime.eventBus.idle();
    const before = { orders: await orders(), stock: await stock() };
    const events = runtime.eventBus.detailEventIdCounts().size;
    const [inventoryBefore, answersBefore] = [inventoryResults.length, answerResults.length];
    const deliveredBefore = inventoryBefore + answersBefore;

    // Act
    const report = runtime.eventBus.replay({ from: new Date(0), to: new Date(Date.now() + 1000) });
    await eventually(async () => {
      await runtime.eventBus.idle();
      return inventoryResults.length + answerResults.length >= deliveredBefore + report.deliveries;
    }, 45_000);

    // Assess: every replayed delivery was a duplicate; no new event, no state changed.
    expect(report.deliveries).toBeGreaterThan(0);
    const replayed = [...inventoryResults.slice(inventoryBefore), ...answerResults.slice(answersBefore)];
    expect(replayed.every((r) => r.duplicate)).toBe(true);
    expect(runtime.eventBus.detailEventIdCounts().size).toBe(events);
    expect(await orders()).toEqual(before.orders);
    expect(await stock()).toEqual(before.stock);
  });
});
