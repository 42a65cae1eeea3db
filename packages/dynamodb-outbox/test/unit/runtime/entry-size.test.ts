import { describe, expect, it } from 'vitest';
import { putEventsEntrySize, utf8Bytes } from '../../../src/runtime/entry-size';

// The rules of https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html,
// each checked on its own.
describe('putEventsEntrySize', () => {
  it('counts the UTF-8 bytes of Source, DetailType and Detail', () => {
    // Prepare
    const entry = { Source: 'orders', DetailType: 'OrderPlaced', Detail: '{"a":1}' };
    // Act
    const size = putEventsEntrySize(entry);
    // Assess
    expect(size).toBe(6 + 11 + 7);
  });

  it('counts Time as 14 bytes whatever its value', () => {
    const base = { Source: 'orders', DetailType: 'OrderPlaced', Detail: '{}' };
    expect(putEventsEntrySize({ ...base, Time: new Date('2026-11-22T10:00:00Z') })).toBe(
      putEventsEntrySize(base) + 14,
    );
    expect(putEventsEntrySize({ ...base, Time: new Date(0) })).toBe(putEventsEntrySize(base) + 14);
  });

  it('counts each Resources element by its UTF-8 bytes', () => {
    const base = { Source: 's', DetailType: 'd', Detail: '{}' };
    const table = 'arn:aws:dynamodb:us-east-1:123456789012:table/orders';
    expect(putEventsEntrySize({ ...base, Resources: [table, 'arn:é'] })).toBe(4 + table.length + 6);
  });

  it('counts multi-byte characters by their encoded length, not by string length', () => {
    // "ë" is 2 bytes, "€" 3 and "😀" 4 in UTF-8; JavaScript counts them as 1, 1 and 2 units.
    const detail = '{"name":"Zoë","price":"€","mood":"😀"}';
    const entry = { Source: 'orders', DetailType: 'OrderPlaced', Detail: detail };
    expect(putEventsEntrySize(entry)).toBe(6 + 11 + detail.length + 1 + 2 + 2);
    expect(utf8Bytes('😀')).toBe(4);
  });

  it('leaves out what the documented sum leaves out: absent Detail, EventBusName, TraceHeader', () => {
    const entry = { Source: 'orders', DetailType: 'OrderPlaced' };
    expect(putEventsEntrySize(entry)).toBe(17);
    expect(
      putEventsEntrySize({
        ...entry,
        EventBusName: 'orders-bus',
        TraceHeader: 'Root=1-5759e988-bd862e3fe1be46a994272793',
      }),
    ).toBe(17);
  });
});
