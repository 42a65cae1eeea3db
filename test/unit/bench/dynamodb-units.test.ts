import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  type IndexProjection,
  indexWriteUnits,
  itemBytes,
  significantDigits,
  standardWriteUnits,
  transactionalWriteUnits,
  updateWriteUnits,
} from '../../../bench/dynamodb-units';

// The rules of https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
describe('itemBytes', () => {
  it('counts attribute names and string values in UTF-8 bytes', () => {
    // Prepare: "é" is 2 bytes
    const item = { PK: { S: 'ORDER#1' }, name: { S: 'café' } };
    // Act
    const bytes = itemBytes(item);
    // Assess
    expect(bytes).toBe(2 + 7 + 4 + 5);
  });

  it('counts a number as one byte per two significant digits plus one', () => {
    expect(significantDigits('00120.500')).toBe(4);
    expect(significantDigits('-7')).toBe(1);
    expect(significantDigits('0')).toBe(1);
    expect(itemBytes({ n: { N: '12345' } })).toBe(1 + 3 + 1);
    expect(itemBytes({ n: { N: '1200' } })).toBe(1 + 1 + 1);
  });

  it('counts booleans and nulls as one byte, binaries by raw length', () => {
    expect(itemBytes({ b: { BOOL: true }, z: { NULL: true } })).toBe(1 + 1 + 1 + 1);
    expect(itemBytes({ bin: { B: new Uint8Array(10) } })).toBe(3 + 10);
  });

  it('adds 3 bytes per list or map and 1 byte per element', () => {
    // Prepare
    const line: AttributeValue = { M: { sku: { S: 'A' }, quantity: { N: '2' } } };
    const item = { lines: { L: [line, line] } };
    // Act
    const bytes = itemBytes(item);
    // Assess: map = 3 + (1 + 3 + 1) + (1 + 8 + 2) = 19; list = 3 + 2 × (1 + 19) = 43
    expect(bytes).toBe(5 + 43);
    expect(itemBytes({ empty: { M: {} } })).toBe(5 + 3);
  });

  it('sums the elements of sets', () => {
    expect(itemBytes({ s: { SS: ['ab', 'c'] }, n: { NS: ['1', '22'] } })).toBe(1 + 3 + 1 + 2 + 2);
  });
});

describe('write units', () => {
  it('charges 1 WRU per started KB for a standard write and twice that in a transaction', () => {
    expect(standardWriteUnits(1)).toBe(1);
    expect(standardWriteUnits(1024)).toBe(1);
    expect(standardWriteUnits(1025)).toBe(2);
    expect(transactionalWriteUnits(500)).toBe(2);
    expect(transactionalWriteUnits(2048)).toBe(4);
  });

  it('charges an update by the larger of the item before and after', () => {
    const small = { PK: { S: 'x' } };
    const large = { PK: { S: 'x' }, body: { S: 'y'.repeat(1500) } };
    expect(updateWriteUnits(small, large)).toBe(2);
    expect(updateWriteUnits(large, small)).toBe(2);
  });
});

describe('indexWriteUnits', () => {
  const projection: IndexProjection = { type: 'ALL', keys: ['PK', 'SK', 'outboxMinute', 'outboxWrittenAt'] };
  const keys = ['outboxMinute', 'outboxWrittenAt'];
  const indexed = {
    PK: { S: 'ORDER#1' },
    SK: { S: 'OUTBOX#1' },
    outboxMinute: { S: '2026-11-22T10:00#3' },
    outboxWrittenAt: { S: 't' },
  };
  const published = {
    PK: { S: 'ORDER#1' },
    SK: { S: 'OUTBOX#1' },
    outboxWrittenAt: { S: 't' },
    publishedAt: { S: 'u' },
  };

  it('charges one write when an item enters a sparse index and one when it leaves it', () => {
    expect(indexWriteUnits(undefined, indexed, keys, projection)).toBe(1);
    expect(indexWriteUnits(indexed, published, keys, projection)).toBe(1);
  });

  it('charges nothing for items that never carry the index key', () => {
    expect(indexWriteUnits(undefined, published, keys, projection)).toBe(0);
    expect(indexWriteUnits(published, { ...published, x: { S: '1' } }, keys, projection)).toBe(0);
  });

  it('charges a delete and a put when the index key changes', () => {
    const moved = { ...indexed, outboxMinute: { S: '2026-11-22T10:00#4' } };
    expect(indexWriteUnits(indexed, moved, keys, projection)).toBe(2);
  });

  it('sizes a KEYS_ONLY entry by its keys alone', () => {
    const big = { ...indexed, payload: { S: 'z'.repeat(3000) } };
    expect(indexWriteUnits(undefined, big, keys, projection)).toBe(3);
    expect(indexWriteUnits(undefined, big, keys, { ...projection, type: 'KEYS_ONLY' })).toBe(1);
  });
});
