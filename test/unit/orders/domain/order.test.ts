import { describe, expect, it } from 'vitest';
import {
  asPlaced,
  cancelOrder,
  confirmOrder,
  OrderNotCancellableError,
  orderTotal,
  placeOrder,
  rejectOrder,
} from '../../../../lambdas/orders/domain/order';
import body from '../fixtures/place-order-body.json';

const ORDER_ID = '01JD0000000000000000000ABC';
const placedAt = {
  now: '2026-11-22T10:00:00.000Z',
  eventId: '01JD00000000000000000EVT01',
  correlationId: 'c-1',
};

describe('order aggregate', () => {
  it('places an order at version 1 with its total and an OrderPlaced event of sequence 1', () => {
    // Act
    const { order, event } = placeOrder(ORDER_ID, body, placedAt);

    // Assess
    expect(order).toEqual({
      orderId: ORDER_ID,
      customerId: 'customer-42',
      currency: 'EUR',
      lines: body.lines,
      total: 2 * 1250 + 199,
      status: 'PLACED',
      version: 1,
      createdAt: placedAt.now,
      updatedAt: placedAt.now,
    });
    expect(event).toEqual({
      eventId: placedAt.eventId,
      eventType: 'OrderPlaced',
      aggregateType: 'Order',
      aggregateId: ORDER_ID,
      sequence: 1,
      occurredAt: placedAt.now,
      schemaVersion: 1,
      correlationId: 'c-1',
      payload: {
        orderId: ORDER_ID,
        customerId: 'customer-42',
        currency: 'EUR',
        lines: body.lines,
        total: 2699,
      },
    });
  });

  it('cancels a placed order: version + 1 and an OrderCancelled event with that sequence', () => {
    // Prepare
    const { order: placed } = placeOrder(ORDER_ID, body, placedAt);
    const at = { now: '2026-11-22T11:00:00.000Z', eventId: '01JD00000000000000000EVT02' };

    // Act
    const { order, event } = cancelOrder(placed, 'changed my mind', at);

    // Assess
    expect(order).toMatchObject({
      status: 'CANCELLED',
      version: 2,
      updatedAt: at.now,
      cancelledAt: at.now,
      cancelReason: 'changed my mind',
      createdAt: placedAt.now,
    });
    expect(event).toMatchObject({
      eventType: 'OrderCancelled',
      sequence: 2,
      eventId: at.eventId,
      payload: { orderId: ORDER_ID, reason: 'changed my mind' },
    });
    expect(event).not.toHaveProperty('correlationId');
  });

  it('refuses to cancel an order that is already cancelled', () => {
    // Prepare
    const { order: placed } = placeOrder(ORDER_ID, body, placedAt);
    const { order: cancelled } = cancelOrder(placed, undefined, placedAt);

    // Act
    const act = () => cancelOrder(cancelled, undefined, placedAt);

    // Assess
    expect(act).toThrow(OrderNotCancellableError);
  });

  it('reconstructs the response of the placement from a later state of the order', () => {
    // Prepare
    const { order: placed } = placeOrder(ORDER_ID, body, placedAt);
    const { order: cancelled } = cancelOrder(placed, 'x', { now: '2026-11-22T12:00:00.000Z', eventId: 'e' });

    // Act
    const replayed = asPlaced(cancelled);

    // Assess
    expect(replayed).toEqual(placed);
  });

  it('sums quantity × unit price in minor units', () => {
    expect(
      orderTotal([
        { sku: 'a', quantity: 3, unitPrice: 5 },
        { sku: 'b', quantity: 1000, unitPrice: 1_000_000_000 },
      ]),
    ).toBe(15 + 1_000_000_000_000);
  });

  describe('the saga', () => {
    const at = { now: '2026-11-22T10:01:00.000Z', eventId: '01JD00000000000000000EVT03' };

    it('confirms a placed order: version + 1 and an OrderConfirmed event with that sequence', () => {
      const { order: placed } = placeOrder(ORDER_ID, body, placedAt);
      const change = confirmOrder(placed, at);
      expect(change?.order).toMatchObject({ status: 'CONFIRMED', version: 2, confirmedAt: at.now });
      expect(change?.event).toMatchObject({
        eventType: 'OrderConfirmed',
        sequence: 2,
        payload: { orderId: ORDER_ID },
      });
    });

    it('rejects a placed order with its reason, in the order and in the OrderRejected event', () => {
      const { order: placed } = placeOrder(ORDER_ID, body, placedAt);
      const change = rejectOrder(placed, 'timeout', at);
      expect(change?.order).toMatchObject({
        status: 'REJECTED',
        version: 2,
        rejectedAt: at.now,
        rejectionReason: 'timeout',
      });
      expect(change?.event).toMatchObject({
        eventType: 'OrderRejected',
        sequence: 2,
        payload: { orderId: ORDER_ID, reason: 'timeout' },
      });
    });

    it('changes nothing when an answer comes after the order left PLACED', () => {
      const { order: placed } = placeOrder(ORDER_ID, body, placedAt);
      const cancelled = cancelOrder(placed, undefined, at).order;
      const confirmed = confirmOrder(placed, at)?.order;
      expect(confirmOrder(cancelled, at)).toBeUndefined();
      expect(rejectOrder(cancelled, 'unknown-sku', at)).toBeUndefined();
      expect(confirmed && rejectOrder(confirmed, 'timeout', at)).toBeUndefined();
    });

    it('cancels a confirmed order, and refuses to cancel a rejected one', () => {
      const { order: placed } = placeOrder(ORDER_ID, body, placedAt);
      const confirmed = confirmOrder(placed, at)?.order;
      const rejected = rejectOrder(placed, 'insufficient-stock', at)?.order;
      expect(confirmed && cancelOrder(confirmed, undefined, at)).toMatchObject({
        order: { status: 'CANCELLED', version: 3 },
        event: { eventType: 'OrderCancelled', sequence: 3 },
      });
      expect(() => rejected && cancelOrder(rejected, undefined, at)).toThrow(OrderNotCancellableError);
    });
  });
});
