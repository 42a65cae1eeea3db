import { describe, expect, it } from 'vitest';
import { createEventReporter, describeInvocation } from '../../../src/local/console';
import type { AcceptedEvent } from '../../../src/local/event-bus';
import type { InvocationOutcome } from '../../../src/local/functions';

const detail = {
  eventId: '01M91DCYXTQ3TZ83SX2YZ2EJV4',
  eventType: 'OrderPlaced',
  aggregateType: 'Order',
  aggregateId: '77H3TVWPHKZC23320278785G7K',
  occurredAt: '2026-12-04T10:00:00.000Z',
};
const delivery = { source: 'orders', 'detail-type': 'OrderPlaced', detail };

const invocation = (overrides: Partial<InvocationOutcome>): InvocationOutcome => ({
  function: 'InventoryConsumer',
  path: 'Orders/Inventory/Consumer/Function/Resource',
  event: delivery,
  ok: true,
  ...overrides,
});

describe('the console lines of dynamodb-outbox local', () => {
  it('names the event and its aggregate when published, and says when it comes again', () => {
    // Prepare
    const report = createEventReporter();
    const accepted = { event: delivery, receivedAt: '2026-12-04T10:00:00.350Z' } as unknown as AcceptedEvent;

    // Act
    const lines = [report(accepted), report(accepted)];

    // Assess
    expect(lines).toEqual([
      'event published 01M91DCYXTQ3TZ83SX2YZ2EJV4  Order 77H3TVWPHKZC23320278785G7K  orders OrderPlaced  lag 350ms',
      'event published 01M91DCYXTQ3TZ83SX2YZ2EJV4  Order 77H3TVWPHKZC23320278785G7K  orders OrderPlaced  lag 350ms' +
        '  (again: delivery is at least once)',
    ]);
  });

  it.each([
    [{ result: { outcome: 'reserved', duplicate: false } }, 'InventoryConsumer: reserved'],
    [{ result: { outcome: 'rejected', duplicate: false } }, 'InventoryConsumer: rejected'],
    [{ result: { outcome: 'reserved', duplicate: true } }, 'InventoryConsumer: duplicate skipped'],
    [{ result: { duplicate: false } }, 'InventoryConsumer: consumed'],
  ])('says what a consumer result %j says', (overrides, said) => {
    expect(describeInvocation(invocation(overrides))).toBe(
      `event consumed  01M91DCYXTQ3TZ83SX2YZ2EJV4  Order 77H3TVWPHKZC23320278785G7K  ${said}`,
    );
  });

  it('says nothing of a result that says nothing, and names a failure with its event', () => {
    expect(describeInvocation(invocation({ result: null }))).toBeUndefined();
    expect(describeInvocation(invocation({ result: { statusCode: 200 } }))).toBeUndefined();
    expect(describeInvocation(invocation({ ok: false, error: new Error('SKU-1 unknown') }))).toBe(
      'event failed    01M91DCYXTQ3TZ83SX2YZ2EJV4  Order 77H3TVWPHKZC23320278785G7K  InventoryConsumer: SKU-1 unknown',
    );
    expect(
      describeInvocation(invocation({ event: { Records: [] }, result: { batchItemFailures: [] } })),
    ).toBe(undefined);
    expect(describeInvocation(invocation({ event: {}, ok: false, error: new Error('boom') }))).toBe(
      'function failed InventoryConsumer: boom',
    );
  });
});
