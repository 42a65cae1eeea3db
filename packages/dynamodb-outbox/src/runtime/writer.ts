import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { describeIssues, type EventEnvelope, eventEnvelopeSchema, toEnvelope } from './envelope.js';
import { expiresAtFor, outboxKeyOf, timeIndexEntryOf } from './layout.js';
import type { WriterSettings } from './settings.js';

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/**
 * TransactWriteItems limits
 * (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html):
 * "up to 100 action requests", "the aggregate size of the items in the transaction cannot exceed
 * 4 MB"; and any item at most 400 KB
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html).
 */
export const TRANSACTION_LIMITS = {
  maxItems: 100,
  maxBytes: 4 * 1024 * 1024,
  maxItemBytes: 400 * 1024,
} as const;

/** An event or a transaction the write helper will not let reach DynamoDB; nothing was written. */
export class OutboxWriteError extends Error {
  override readonly name = 'OutboxWriteError';
}

const utf8 = (text: string): number => Buffer.byteLength(text, 'utf8');

/**
 * Item size as DynamoDB counts it
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
 * attribute name bytes plus value bytes; a number about one byte per two significant digits plus
 * one; a list or map 3 bytes plus its elements plus one byte each; null and boolean one byte.
 */
const valueSize = (value: Record<string, unknown>): number => {
  const [type, inner] = Object.entries(value)[0] ?? ['NULL', true];
  switch (type) {
    case 'S':
      return utf8(inner as string);
    case 'N':
      // "Leading and trailing zeroes are trimmed" before the significant digits are counted.
      return Math.ceil((inner as string).replace(/^-|\.|e.*$/gi, '').replace(/^0+|0+$/g, '').length / 2) + 1;
    case 'B':
      return (inner as Uint8Array).byteLength;
    case 'SS':
      return (inner as string[]).reduce((sum, s) => sum + utf8(s), 0);
    case 'NS':
      return (inner as string[]).reduce((sum, n) => sum + valueSize({ N: n }), 0);
    case 'L':
      return 3 + (inner as Record<string, unknown>[]).reduce((sum, v) => sum + 1 + valueSize(v), 0);
    case 'M':
      return (
        3 +
        Object.entries(inner as Record<string, Record<string, unknown>>).reduce(
          (sum, [k, v]) => sum + 1 + utf8(k) + valueSize(v),
          0,
        )
      );
    default:
      return 1;
  }
};

export const itemSizeBytes = (item: Readonly<Record<string, unknown>>): number =>
  Object.entries(marshall(item, { removeUndefinedValues: true, convertClassInstanceToMap: true })).reduce(
    (sum, [name, value]) => sum + utf8(name) + valueSize(value as unknown as Record<string, unknown>),
    0,
  );

const transactItemSize = (action: TransactItem): number => {
  if (action.Put?.Item) return itemSizeBytes(action.Put.Item);
  const key = action.Update?.Key ?? action.Delete?.Key ?? action.ConditionCheck?.Key;
  const values = action.Update?.ExpressionAttributeValues ?? {};
  return (key ? itemSizeBytes(key) : 0) + itemSizeBytes(values);
};

/**
 * Throws OutboxWriteError naming the limit when `actions` cannot be one TransactWriteItems: more
 * than 100 actions, an item over 400 KB or more than 4 MB in all (Put items counted whole; Update,
 * Delete and ConditionCheck by key and values, a lower bound of what DynamoDB counts).
 */
export const checkTransactionLimits = (actions: readonly TransactItem[]): void => {
  if (actions.length > TRANSACTION_LIMITS.maxItems)
    throw new OutboxWriteError(
      `The transaction has ${actions.length} actions; TransactWriteItems allows ${TRANSACTION_LIMITS.maxItems}`,
    );
  let total = 0;
  actions.forEach((action, index) => {
    const size = transactItemSize(action);
    if (action.Put && size > TRANSACTION_LIMITS.maxItemBytes)
      throw new OutboxWriteError(
        `Item ${index} of the transaction is ${size} bytes; DynamoDB allows ${TRANSACTION_LIMITS.maxItemBytes}`,
      );
    total += size;
  });
  if (total > TRANSACTION_LIMITS.maxBytes)
    throw new OutboxWriteError(
      `The transaction is ${total} bytes; TransactWriteItems allows ${TRANSACTION_LIMITS.maxBytes} in all`,
    );
};

export interface OutboxWriterOptions {
  /** X-Ray trace header of the current invocation; stored so the relay publishes within the trace. */
  readonly traceHeader?: () => string | undefined;
  /** The clock an item's write time (its time-ordered key, its TTL) is read from. @default the system clock */
  readonly now?: () => Date;
}

/**
 * The write side of the outbox: a service calls it inside its own TransactWriteItems, so that its
 * state change and its events commit together or not at all.
 *
 * ```ts
 * const outbox = new OutboxWriter(writerSettings.fromEnv());
 * await doc.send(new TransactWriteCommand({
 *   TransactItems: outbox.transaction([{ Put: { TableName, Item: cart } }], [cartCheckedOut], { aggregateKey: `CART#${cartId}` }),
 * }));
 * ```
 */
export class OutboxWriter {
  constructor(
    /** Where and how the outbox items are written: `writerSettings.fromEnv()` in a function `grantWrite` was given. */
    readonly settings: WriterSettings,
    private readonly options: OutboxWriterOptions = {},
  ) {}

  /**
   * The outbox item of `event`: keys, envelope, trace header, the TTL, `retentionDays` after it is
   * written, and with delivery tracking on a same table its time index entry, by which the
   * reconciler lists it (a time-ordered table's key is its time already). Nothing on it is ever
   * removed: the reconciler compares it with the relay's receipts, and TTL deletes it with its entry.
   */
  item(event: EventEnvelope, aggregateKey?: string): Record<string, unknown> {
    const parsed = eventEnvelopeSchema.safeParse(event);
    if (!parsed.success) throw new OutboxWriteError(`Invalid outbox event: ${describeIssues(parsed.error)}`);
    const envelope = toEnvelope(parsed.data);
    const { layout, deliveryTracking, retentionDays } = this.settings;
    const traceHeader = this.options.traceHeader?.();
    const writtenAt = this.options.now?.() ?? new Date();
    return {
      ...outboxKeyOf(layout, envelope, { aggregateKey, writtenAt }),
      ...envelope,
      ...(traceHeader ? { traceHeader } : {}),
      [layout.timeToLiveAttribute]: expiresAtFor(writtenAt, retentionDays),
      ...(deliveryTracking ? timeIndexEntryOf(layout, envelope, writtenAt) : {}),
    };
  }

  /**
   * One conditional Put per event: an existing item with the same key fails the transaction. On a
   * same-table outbox that key is the aggregate's sequence, so a sequence is never written twice;
   * a time-ordered key also holds the write time, so there the service's own condition (a version
   * check on the aggregate) must guard its sequence. `aggregateKey` is required for a same-table
   * outbox: the partition key value of the aggregate the events belong to.
   */
  puts(events: readonly EventEnvelope[], options: { readonly aggregateKey?: string } = {}): TransactItem[] {
    const { tableName, layout } = this.settings;
    return events.map((event) => ({
      Put: {
        TableName: tableName,
        Item: this.item(event, options.aggregateKey),
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': layout.partitionKey },
      },
    }));
  }

  /** The service's own actions followed by the events' Puts, checked against the transaction limits. */
  transaction(
    actions: readonly TransactItem[],
    events: readonly EventEnvelope[],
    options: { readonly aggregateKey?: string } = {},
  ): TransactItem[] {
    const all = [...actions, ...this.puts(events, options)];
    checkTransactionLimits(all);
    return all;
  }
}
