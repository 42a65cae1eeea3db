import { describe, expect, it } from 'vitest';
import { TIME_ORDERED_TABLE_LAYOUT } from '../../../src/runtime/layout';
import { parseOutboxImage, parseOutboxItem } from '../../../src/runtime/outbox-item';
import { keyOf, marshallItem, ORDERS_LAYOUT, OTHER_LAYOUT, outboxItem } from '../../support/unit';

const TRACE = 'Root=1-6740a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1';

describe('parseOutboxItem', () => {
  it('reads the key, the envelope alone, the trace header and keeps the item as stored', () => {
    // Prepare
    const item = outboxItem(1, { traceHeader: TRACE, correlationId: 'corr-1', publishedAt: 'later' });
    // Act
    const parsed = parseOutboxItem(ORDERS_LAYOUT, item);
    // Assess
    expect(parsed).toEqual({
      ok: true,
      record: {
        key: { PK: 'ORDER#01JORDER000000000000000001', SK: 'OUTBOX#0000000001' },
        envelope: {
          eventId: item.eventId,
          eventType: 'OrderPlaced',
          aggregateType: 'Order',
          aggregateId: item.aggregateId,
          sequence: 1,
          occurredAt: '2026-11-22T10:00:00.000Z',
          schemaVersion: 1,
          correlationId: 'corr-1',
          payload: item.payload,
        },
        traceHeader: TRACE,
        item,
      },
    });
    // In contract order, so the published detail reads the same for every event.
    expect(parsed.ok && Object.keys(parsed.record.envelope)).toEqual([
      'eventId',
      'eventType',
      'aggregateType',
      'aggregateId',
      'sequence',
      'occurredAt',
      'schemaVersion',
      'correlationId',
      'payload',
    ]);
  });

  it.each([
    ['same table, pk/sk', OTHER_LAYOUT],
    ['dedicated table', TIME_ORDERED_TABLE_LAYOUT],
  ])('reads the key under the layout’s attribute names (%s)', (_name, layout) => {
    // Prepare
    const item = outboxItem(1, {}, layout);
    // Act
    const parsed = parseOutboxItem(layout, item);
    // Assess
    expect(parsed.ok && parsed.record.key).toEqual(keyOf(item, layout));
    expect(parsed.ok && parsed.record.envelope).not.toHaveProperty('pk');
  });

  it('has no trace header when the item carries none or an empty one', () => {
    const without = parseOutboxItem(ORDERS_LAYOUT, outboxItem(1));
    const empty = parseOutboxItem(ORDERS_LAYOUT, outboxItem(1, { traceHeader: '' }));
    expect(without.ok && without.record).not.toHaveProperty('traceHeader');
    expect(empty.ok && empty.record).not.toHaveProperty('traceHeader');
  });

  it('says which key attributes are missing, and has no key then', () => {
    // Act
    const parsed = parseOutboxItem(OTHER_LAYOUT, outboxItem(1));
    // Assess
    expect(parsed).toEqual({ ok: false, reason: 'Not a valid outbox item: no string key attributes pk/sk' });
  });

  it('names the invalid fields but never their values, and keeps the key to find the item', () => {
    // Prepare
    const { eventId: _dropped, ...item } = outboxItem(1, {
      payload: 'customer-secret' as never,
      sequence: 0,
    });
    // Act
    const parsed = parseOutboxItem(ORDERS_LAYOUT, item);
    // Assess
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.key).toEqual(keyOf(item));
    expect(parsed.reason).toMatch(/^Not a valid outbox item: /);
    expect(parsed.reason).toMatch(/eventId: /);
    expect(parsed.reason).toMatch(/sequence: /);
    expect(parsed.reason).toMatch(/payload: /);
    expect(parsed.reason).not.toContain('customer-secret');
  });

  it('refuses a trace header that is not a string', () => {
    // Act
    const parsed = parseOutboxItem(ORDERS_LAYOUT, outboxItem(1, { traceHeader: 42 as never }));
    // Assess
    expect(parsed).toEqual({
      ok: false,
      reason: expect.stringMatching(/^Not a valid outbox item: traceHeader: /),
      key: keyOf(outboxItem(1)),
    });
  });
});

describe('parseOutboxImage', () => {
  it('reads a stream image (DynamoDB JSON) as the item it stores', () => {
    // Prepare
    const item = outboxItem(1, { traceHeader: TRACE }, OTHER_LAYOUT);
    // Act
    const parsed = parseOutboxImage(OTHER_LAYOUT, marshallItem(item));
    // Assess
    expect(parsed).toEqual(parseOutboxItem(OTHER_LAYOUT, item));
    expect(parsed.ok && parsed.record.item).toEqual(item);
  });

  it('says why an image that is not DynamoDB JSON cannot be read', () => {
    // Act
    const parsed = parseOutboxImage(ORDERS_LAYOUT, { PK: { S: 'ORDER#1' }, SK: { X: 'nonsense' } });
    // Assess
    expect(parsed).toEqual({ ok: false, reason: 'Not a valid outbox item: Unsupported type passed: X' });
  });

  it('reports an invalid item in an image like a stored one', () => {
    // Prepare
    const { occurredAt: _dropped, ...item } = outboxItem(1);
    // Act
    const parsed = parseOutboxImage(ORDERS_LAYOUT, marshallItem(item));
    // Assess
    expect(parsed).toEqual(parseOutboxItem(ORDERS_LAYOUT, item));
    expect(parsed).toMatchObject({ ok: false, key: keyOf(item) });
  });
});
