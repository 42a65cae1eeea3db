import { describe, expect, it } from 'vitest';
import {
  decide,
  type InventoryEvent,
  MAX_SKUS_PER_RESERVATION,
  mergeLines,
  type Reservation,
  UnexpectedEventError,
} from '../../../lambdas/inventory/reservations';

const placed: InventoryEvent = {
  type: 'OrderPlaced',
  eventId: 'evt-1',
  orderId: 'order-1',
  sequence: 1,
  lines: [
    { sku: 'A', quantity: 2 },
    { sku: 'B', quantity: 1 },
    { sku: 'A', quantity: 3 },
  ],
};
const cancelled: InventoryEvent = {
  type: 'OrderCancelled',
  eventId: 'evt-2',
  orderId: 'order-1',
  sequence: 2,
};

/** Apply a decision the way the store would, to walk through a history. */
const applied = (current: Reservation | undefined, event: InventoryEvent): Reservation | undefined =>
  decide(current, event).change?.next ?? current;

describe('decide', () => {
  it('reserves the merged lines of a placed order', () => {
    // Act
    const decision = decide(undefined, placed);

    // Assess
    expect(decision.outcome).toBe('reserved');
    expect(decision.change).toEqual({
      next: {
        orderId: 'order-1',
        state: 'RESERVED',
        sequence: 1,
        lines: [
          { sku: 'A', quantity: 5 },
          { sku: 'B', quantity: 1 },
        ],
        lastEventId: 'evt-1',
        lastOutcome: 'reserved',
      },
      expectedSequence: undefined,
      reserve: [
        { sku: 'A', quantity: 5 },
        { sku: 'B', quantity: 1 },
      ],
      release: [],
    });
  });

  it('releases exactly what was reserved when the cancel follows the place', () => {
    // Prepare
    const reserved = applied(undefined, placed);

    // Act
    const decision = decide(reserved, cancelled);

    // Assess
    expect(decision.outcome).toBe('released');
    expect(decision.change?.expectedSequence).toBe(1);
    expect(decision.change?.release).toEqual(reserved?.lines);
    expect(decision.change?.reserve).toEqual([]);
    expect(decision.change?.next).toMatchObject({ state: 'RELEASED', sequence: 2, lastEventId: 'evt-2' });
  });

  it('leaves a tombstone when the cancel arrives before the place, and the late place reserves nothing', () => {
    // Act
    const tombstoneDecision = decide(undefined, cancelled);
    const tombstone = applied(undefined, cancelled);
    const latePlace = decide(tombstone, placed);

    // Assess
    expect(tombstoneDecision.outcome).toBe('cancelled-before-placed');
    expect(tombstoneDecision.change?.reserve).toEqual([]);
    expect(tombstone).toMatchObject({ state: 'CANCELLED', sequence: 2, lines: [] });
    expect(latePlace.outcome).toBe('stale');
    expect(latePlace.change).toBeUndefined();
  });

  it('never lets an older event undo a newer one', () => {
    // Prepare
    const released = applied(applied(undefined, placed), cancelled);

    // Act
    const lateDuplicatePlace = decide(released, { ...placed, eventId: 'evt-1' });

    // Assess
    expect(lateDuplicatePlace.outcome).toBe('stale');
    expect(lateDuplicatePlace.change).toBeUndefined();
  });

  it('recognises its own committed write and reports the original outcome without writing again', () => {
    // Prepare
    const reserved = applied(undefined, placed);

    // Act
    const decision = decide(reserved, placed);

    // Assess
    expect(decision).toEqual({ outcome: 'reserved' });
  });

  it.each([
    ['place, cancel', [placed, cancelled]],
    ['cancel, place', [cancelled, placed]],
    ['place, place, cancel', [placed, placed, cancelled]],
    ['cancel, cancel, place, place', [cancelled, cancelled, placed, placed]],
    ['place, cancel, place, cancel', [placed, cancelled, placed, cancelled]],
  ])('ends with nothing held and the order at sequence 2 for %s', (_name, events) => {
    // Act
    let state: Reservation | undefined;
    for (const event of events) state = applied(state, event);

    // Assess
    expect(state?.sequence).toBe(2);
    expect(state?.state === 'RELEASED' || state?.state === 'CANCELLED').toBe(true);
  });

  it('records a rejection, with its reason, for more skus than one transaction can hold', () => {
    // Prepare
    const lines = Array.from({ length: MAX_SKUS_PER_RESERVATION + 1 }, (_, i) => ({
      sku: `S${i}`,
      quantity: 1,
    }));

    // Act
    const decision = decide(undefined, { ...placed, lines });

    // Assess
    expect(decision.outcome).toBe('rejected');
    expect(decision.change?.reserve).toEqual([]);
    expect(decision.change?.next).toMatchObject({
      state: 'REJECTED',
      reason: expect.stringContaining('100'),
    });
  });

  it('reserves the maximum number of skus in one change', () => {
    // Prepare
    const lines = Array.from({ length: MAX_SKUS_PER_RESERVATION }, (_, i) => ({ sku: `S${i}`, quantity: 1 }));

    // Act
    const decision = decide(undefined, { ...placed, lines });

    // Assess
    expect(decision.outcome).toBe('reserved');
    expect(decision.change?.reserve).toHaveLength(MAX_SKUS_PER_RESERVATION);
  });

  it('cancelling a rejected order has nothing to release but still advances the sequence', () => {
    // Prepare
    const lines = Array.from({ length: MAX_SKUS_PER_RESERVATION + 1 }, (_, i) => ({
      sku: `S${i}`,
      quantity: 1,
    }));
    const rejected = applied(undefined, { ...placed, lines });

    // Act
    const decision = decide(rejected, cancelled);

    // Assess
    expect(decision.outcome).toBe('nothing-to-release');
    expect(decision.change?.release).toEqual([]);
    expect(decision.change?.next).toMatchObject({ state: 'REJECTED', sequence: 2 });
  });

  it('refuses a place that would follow a later-sequenced history instead of skipping it', () => {
    // Prepare
    const tombstone = applied(undefined, cancelled);

    // Act + Assess
    expect(() => decide(tombstone, { ...placed, eventId: 'evt-9', sequence: 3 })).toThrow(
      UnexpectedEventError,
    );
  });
});

describe('mergeLines', () => {
  it('sums the quantities of repeated skus, keeping first-seen order', () => {
    expect(mergeLines(placed.type === 'OrderPlaced' ? placed.lines : [])).toEqual([
      { sku: 'A', quantity: 5 },
      { sku: 'B', quantity: 1 },
    ]);
  });
});
