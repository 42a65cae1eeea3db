import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/*
 * DynamoDB item sizes and write request units by AWS's documented rules, because DynamoDB Local
 * does not bill like DynamoDB (it reports 2 capacity units for a two-item transaction; AWS
 * charges 4). Sources:
 * - Item sizes: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
 * - Transactions, 2 WRU per KB per item: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html
 * - GSI writes: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes
 *   (an index entry written, removed or re-keyed costs 1 WRU per KB of the entry, twice when re-keyed).
 */

export const WRITE_UNIT_BYTES = 1024;

const utf8 = (text: string): number => Buffer.byteLength(text, 'utf8');

/** Significant digits of a DynamoDB number: no sign, point, exponent, leading or trailing zeros. */
export const significantDigits = (number: string): number => {
  const mantissa = number.trim().replace(/^[+-]/, '').split(/[eE]/)[0] ?? '';
  const digits = mantissa.replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.max(1, digits.length);
};

const numberBytes = (number: string): number => Math.ceil(significantDigits(number) / 2) + 1;

/** Size of an attribute value, without its name. */
export const valueBytes = (value: AttributeValue): number => {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberBytes(value.N);
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  // Each List or Map costs 3 bytes whatever it holds, plus 1 byte per element.
  if (value.L !== undefined) return 3 + value.L.reduce((sum, element) => sum + 1 + valueBytes(element), 0);
  if (value.M !== undefined)
    return (
      3 +
      Object.entries(value.M).reduce((sum, [name, element]) => sum + 1 + utf8(name) + valueBytes(element), 0)
    );
  if (value.SS !== undefined) return value.SS.reduce((sum, s) => sum + utf8(s), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, n) => sum + numberBytes(n), 0);
  if (value.BS !== undefined) return value.BS.reduce((sum, b) => sum + b.byteLength, 0);
  throw new Error(`Unsupported attribute value: ${JSON.stringify(value)}`);
};

/** Size of an item as DynamoDB counts it for capacity: attribute names plus values. */
export const itemBytes = (item: Readonly<Record<string, AttributeValue>>): number =>
  Object.entries(item).reduce((sum, [name, value]) => sum + utf8(name) + valueBytes(value), 0);

/** A standard write (PutItem, UpdateItem, DeleteItem, an index entry): 1 WRU per started KB. */
export const standardWriteUnits = (bytes: number): number => Math.max(1, Math.ceil(bytes / WRITE_UNIT_BYTES));

/** A write inside TransactWriteItems: DynamoDB prepares and commits, so 2 WRU per started KB. */
export const transactionalWriteUnits = (bytes: number): number => 2 * standardWriteUnits(bytes);

export interface IndexProjection {
  readonly type: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
  /** Table and index key attribute names (always projected). */
  readonly keys: readonly string[];
  /** With INCLUDE: the projected non-key attributes. */
  readonly nonKeyAttributes?: readonly string[];
}

/** The part of `item` an index stores, or undefined when the item lacks an index key (sparse index). */
export const indexEntry = (
  item: Readonly<Record<string, AttributeValue>>,
  indexKeys: readonly string[],
  projection: IndexProjection,
): Record<string, AttributeValue> | undefined => {
  if (indexKeys.some((key) => item[key] === undefined)) return undefined;
  if (projection.type === 'ALL') return { ...item };
  const projected = new Set([...projection.keys, ...(projection.nonKeyAttributes ?? [])]);
  return Object.fromEntries(Object.entries(item).filter(([name]) => projected.has(name)));
};

/**
 * Index write units caused by changing an item from `before` to `after` (either may be absent):
 * an entry appearing or disappearing costs one write of its size; an entry re-keyed costs a
 * delete and a put; an entry whose projected content changed costs a put.
 */
export const indexWriteUnits = (
  before: Readonly<Record<string, AttributeValue>> | undefined,
  after: Readonly<Record<string, AttributeValue>> | undefined,
  indexKeys: readonly string[],
  projection: IndexProjection,
): number => {
  const old = before ? indexEntry(before, indexKeys, projection) : undefined;
  const next = after ? indexEntry(after, indexKeys, projection) : undefined;
  if (!old && !next) return 0;
  if (!old && next) return standardWriteUnits(itemBytes(next));
  if (old && !next) return standardWriteUnits(itemBytes(old));
  const sameKey = indexKeys.every((key) => JSON.stringify(old?.[key]) === JSON.stringify(next?.[key]));
  const oldBytes = itemBytes(old ?? {});
  const nextBytes = itemBytes(next ?? {});
  if (!sameKey) return standardWriteUnits(oldBytes) + standardWriteUnits(nextBytes);
  if (JSON.stringify(old) === JSON.stringify(next)) return 0;
  return standardWriteUnits(Math.max(oldBytes, nextBytes));
};

/** UpdateItem: the larger of the item's size before and after, 1 WRU per started KB. */
export const updateWriteUnits = (
  before: Readonly<Record<string, AttributeValue>>,
  after: Readonly<Record<string, AttributeValue>>,
): number => standardWriteUnits(Math.max(itemBytes(before), itemBytes(after)));
