import { describe, expect, it } from 'vitest';
import { MAX_DISTINCT_SKUS } from '../../../lambdas/inventory/limits';
import {
  CATALOGUE_STOCK,
  decide,
  type InventoryEvent,
  isCatalogueSku,
  mergeLines,
  type Reservation,
} from '../../../lambdas/inventory/reservations';

const placed: InventoryEvent = {
  type: 'OrderPlaced',
  eventId: 'evt-1',
  orderId: 'order-1',
  sequence: 1,
  lines: [
    { sku: 'SKU-1', quantity: 2 },
    { sku: 'SKU-2', quantity: 1 },
    { sku: 'SKU-1', quantity: 3 },
  ],
};
const cancelled: InventoryEvent = {
  type: 'OrderCancelled',
  eventId: 'evt-2',
  orderId: 'order-1',
  sequence: 2,
};
const rejected: InventoryEvent = { type: 'OrderRejected', eventId: 'evt-3', orderId: 'order-1', sequence: 2 };
const none = new Map<string, number>();

/** Apply a decision the way the store would, to walk through a history. */
const applied = (current: Reservation | undefined, event: InventoryEvent): Reservation | undefined =>
  decide(current, none, event).record?.next ?? current;

describe('decide', () => {
  it('reserves the merged lines of a placed order, from the catalogue when a SKU has no stock record', () => {
    // Act
    const decision = decide(undefined, new Map([['SKU-2', 4]]), placed);

    // Assess
    expect(decision).toEqual({
      outcome: 'reserved',
      record: {
        next: {
          orderId: 'order-1',
          state: 'RESERVED',
          sequence: 1,
          lines: [
            { sku: 'SKU-1', quantity: 5 },
            { sku: 'SKU-2', quantity: 1 },
          ],
          version: 1,
        },
        expectedSequence: undefined,
      },
      stock: [
        { kind: 'take', sku: 'SKU-1', quantity: 5, fromCatalogue: true },
        { kind: 'take', sku: 'SKU-2', quantity: 1, fromCatalogue: false },
      ],
      answer: {
        eventType: 'StockReserved',
        payload: {
          orderId: 'order-1',
          lines: [
            { sku: 'SKU-1', quantity: 5 },
            { sku: 'SKU-2', quantity: 1 },
          ],
        },
      },
    });
  });

  it.each([
    [
      'insufficient-stock',
      new Map([['SKU-1', 4]]),
      placed,
      'not enough stock: SKU-1 (5 wanted, 4 available)',
    ],
    ['unknown-sku', none, { ...placed, lines: [{ sku: 'BOOK-1', quantity: 1 }] }, 'unknown skus: BOOK-1'],
    [
      'too-many-lines',
      none,
      {
        ...placed,
        lines: Array.from({ length: MAX_DISTINCT_SKUS + 1 }, (_, i) => ({
          sku: `SKU-${i + 1}`,
          quantity: 1,
        })),
      },
      `the order names ${MAX_DISTINCT_SKUS + 1} distinct skus; at most ${MAX_DISTINCT_SKUS} can be reserved in one transaction`,
    ],
  ] as const)('rejects with %s, holding nothing and saying why', (reason, stock, event, message) => {
    const decision = decide(undefined, stock, event);
    expect(decision.outcome).toBe('rejected');
    expect(decision.stock).toEqual([]);
    expect(decision.record?.next).toMatchObject({ state: 'REJECTED', lines: [], version: 1 });
    expect(decision.answer).toEqual({
      eventType: 'StockRejected',
      payload: { orderId: 'order-1', reason, message },
    });
  });

  it('reserves a SKU outside the catalogue once its stock was set', () => {
    const event = { ...placed, lines: [{ sku: 'BOOK-1', quantity: 3 }] };
    expect(decide(undefined, new Map([['BOOK-1', 3]]), event).outcome).toBe('reserved');
  });

  it.each([cancelled, rejected])(
    'releases what a reservation holds on $type, and answers StockReleased',
    (event) => {
      // Prepare
      const reserved = applied(undefined, placed);

      // Act
      const decision = decide(reserved, none, event);

      // Assess
      expect(decision.outcome).toBe('released');
      expect(decision.record).toEqual({
        next: { ...reserved, state: 'RELEASED', sequence: 2, version: 2 },
        expectedSequence: 1,
      });
      expect(decision.stock).toEqual([
        { kind: 'give', sku: 'SKU-1', quantity: 5 },
        { kind: 'give', sku: 'SKU-2', quantity: 1 },
      ]);
      expect(decision.answer).toMatchObject({ eventType: 'StockReleased', payload: { orderId: 'order-1' } });
    },
  );

  it('leaves a tombstone when the cancel overtakes the placement, and the late placement reserves nothing', () => {
    // Act
    const tombstone = applied(undefined, cancelled);
    const late = decide(tombstone, none, placed);

    // Assess
    expect(tombstone).toEqual({ orderId: 'order-1', state: 'CLOSED', sequence: 2, lines: [], version: 0 });
    expect(decide(undefined, none, cancelled).answer).toBeUndefined();
    expect(late).toMatchObject({ outcome: 'stale', stock: [] });
    expect(late.record).toBeUndefined();
    expect(late.answer).toBeUndefined();
  });

  it('has nothing to release for an order it rejected', () => {
    const refused = decide(undefined, new Map([['SKU-1', 0]]), placed).record?.next;
    expect(decide(refused, none, rejected)).toEqual({ outcome: 'nothing-to-release', stock: [] });
  });

  it('ignores an event at or below the sequence already applied', () => {
    const released = applied(applied(undefined, placed), cancelled);
    expect(decide(released, none, rejected)).toMatchObject({ outcome: 'stale', stock: [] });
  });

  it('ends with nothing held whatever the order of a placement and its cancel', () => {
    for (const history of [
      [placed, cancelled],
      [cancelled, placed],
    ]) {
      const end = history.reduce<Reservation | undefined>((state, event) => applied(state, event), undefined);
      expect(end?.state === 'RELEASED' || end?.state === 'CLOSED').toBe(true);
    }
  });
});

describe('the catalogue', () => {
  it('holds SKU-1 to SKU-100, 1,000 units each', () => {
    expect(CATALOGUE_STOCK).toBe(1000);
    expect(['SKU-1', 'SKU-42', 'SKU-100'].every(isCatalogueSku)).toBe(true);
    expect(['SKU-0', 'SKU-101', 'SKU-01', 'sku-1', 'BOOK-1'].some(isCatalogueSku)).toBe(false);
  });
});

describe('mergeLines', () => {
  it('adds up the lines of one sku, keeping first-seen order', () => {
    expect(mergeLines(placed.type === 'OrderPlaced' ? placed.lines : [])).toEqual([
      { sku: 'SKU-1', quantity: 5 },
      { sku: 'SKU-2', quantity: 1 },
    ]);
  });
});
