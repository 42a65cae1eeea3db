import { IdempotencyValidationError } from '@aws-lambda-powertools/idempotency';
import { beforeEach, describe, expect, it } from 'vitest';
import { createInventoryConsumer } from '../../../lambdas/inventory/consumer';
import { InvalidEventError } from '../../../lambdas/inventory/event-schema';
import cancelledFixture from './fixtures/order-cancelled.json';
import placedFixture from './fixtures/order-placed.json';
import { MemoryPersistenceLayer, MemoryReservationStore } from './memory-stores';

/** A fresh copy per delivery, with a new EventBridge envelope id as every PutEvents gives. */
const deliver = <T extends { id: string }>(fixture: T, n = 0): T => ({
  ...structuredClone(fixture),
  id: `envelope-${n}`,
});

describe('inventory consumer', () => {
  let store: MemoryReservationStore;
  let persistence: MemoryPersistenceLayer;
  let consume: ReturnType<typeof createInventoryConsumer>;

  beforeEach(() => {
    store = new MemoryReservationStore();
    persistence = new MemoryPersistenceLayer();
    consume = createInventoryConsumer({ store, persistenceStore: persistence, idempotencyTtlSeconds: 3600 });
  });

  it('has one effect when the same eventId is delivered three times', async () => {
    // Act
    const results = [];
    for (let n = 0; n < 3; n++) results.push(await consume(deliver(placedFixture, n)));

    // Assess
    expect(store.commits).toBe(1);
    expect(store.heldQuantity('SKU-RED-MUG')).toBe(3);
    expect(store.heldQuantity('SKU-TEA-100G')).toBe(1);
    expect(results.map((r) => [r.outcome, r.duplicate])).toEqual([
      ['reserved', false],
      ['reserved', true],
      ['reserved', true],
    ]);
    expect(persistence.records.size).toBe(1);
  });

  it('throws when an eventId comes back with a different body, and changes nothing', async () => {
    // Prepare
    await consume(deliver(placedFixture));
    const tampered = deliver(placedFixture, 1);
    tampered.detail.payload.lines[0] = { sku: 'SKU-RED-MUG', quantity: 200, unitPrice: 1250 };

    // Act
    const attempt = consume(tampered);

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(IdempotencyValidationError);
    expect(store.commits).toBe(1);
    expect(store.heldQuantity('SKU-RED-MUG')).toBe(3);
  });

  it('keys on detail.eventId, not on the EventBridge envelope id', async () => {
    // Prepare
    const sameEnvelopeOtherEvent = deliver(placedFixture, 0);
    sameEnvelopeOtherEvent.detail.eventId = 'another-event';
    sameEnvelopeOtherEvent.detail.aggregateId = 'another-order';
    sameEnvelopeOtherEvent.detail.payload.orderId = 'another-order';

    // Act
    const first = await consume(deliver(placedFixture, 0));
    const second = await consume(sameEnvelopeOtherEvent);

    // Assess
    expect([first.duplicate, second.duplicate]).toEqual([false, false]);
    expect(store.commits).toBe(2);
  });

  it('ends with nothing held when the cancel arrives before the place', async () => {
    // Act
    const cancel = await consume(deliver(cancelledFixture));
    const place = await consume(deliver(placedFixture));

    // Assess
    expect(cancel.outcome).toBe('cancelled-before-placed');
    expect(place.outcome).toBe('stale');
    expect(store.heldQuantity('SKU-RED-MUG')).toBe(0);
    expect(store.reservations.get(placedFixture.detail.aggregateId)).toMatchObject({
      state: 'CANCELLED',
      sequence: 2,
    });
  });

  it.each([
    ['place, cancel', ['P', 'C']],
    ['cancel, place', ['C', 'P']],
    ['place, cancel, place', ['P', 'C', 'P']],
    ['cancel, place, cancel, place', ['C', 'P', 'C', 'P']],
    ['place, place, cancel, cancel', ['P', 'P', 'C', 'C']],
  ])('holds nothing after %s, with every redelivery counted as a duplicate', async (_name, order) => {
    // Act
    const results = [];
    for (const [n, kind] of order.entries())
      results.push(await consume(deliver(kind === 'P' ? placedFixture : cancelledFixture, n)));

    // Assess
    expect(store.heldQuantity('SKU-RED-MUG')).toBe(0);
    expect(store.heldQuantity('SKU-TEA-100G')).toBe(0);
    expect(results.filter((r) => r.duplicate)).toHaveLength(order.length - 2);
  });

  it('rejects an event whose detail is invalid, naming the field, and writes nothing', async () => {
    // Prepare
    const invalid = deliver(placedFixture);
    invalid.detail.payload.lines[0] = { sku: 'SKU-RED-MUG', quantity: 0, unitPrice: 1250 };

    // Act
    const attempt = consume(invalid);

    // Assess
    await expect(attempt).rejects.toThrow(InvalidEventError);
    await expect(attempt).rejects.toThrow(/payload\.lines\.0\.quantity/);
    expect(store.commits).toBe(0);
    expect(persistence.records.size).toBe(0);
  });

  it('rejects a detail-type that disagrees with the detail', async () => {
    // Prepare
    const mismatched = { ...deliver(placedFixture), 'detail-type': 'OrderCancelled' };

    // Act + Assess
    await expect(consume(mismatched)).rejects.toThrow(/does not match eventType/);
    expect(store.commits).toBe(0);
  });

  it('rejects an event type it does not handle instead of skipping it', async () => {
    // Prepare
    const shipped = deliver(placedFixture);
    shipped['detail-type'] = 'OrderShipped';
    shipped.detail.eventType = 'OrderShipped';

    // Act + Assess
    await expect(consume(shipped)).rejects.toThrow(/does not handle OrderShipped/);
  });

  it('forgets a failed attempt so that the retry applies the event', async () => {
    // Prepare
    const failing = new MemoryReservationStore();
    failing.commit = async () => {
      throw new Error('throttled');
    };
    const flaky = createInventoryConsumer({
      store: failing,
      persistenceStore: persistence,
      idempotencyTtlSeconds: 60,
    });

    // Act
    await expect(flaky(deliver(placedFixture))).rejects.toThrow('throttled');
    const retry = await consume(deliver(placedFixture, 1));

    // Assess
    expect(retry).toMatchObject({ outcome: 'reserved', duplicate: false });
    expect(store.heldQuantity('SKU-RED-MUG')).toBe(3);
  });
});
