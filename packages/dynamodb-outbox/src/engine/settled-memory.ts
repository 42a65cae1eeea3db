import { describeKey, type OutboxKey } from '../runtime/layout.js';

/**
 * Outbox items kept per container by default. An entry is one key string (~60 bytes) in a Map, so
 * 10,000 of them take about 1 MB of the function's memory, and cover 100 full batches of 100: far
 * more than a retried batch ever reaches back.
 */
export const DEFAULT_SETTLED_MEMORY_SIZE = 10_000;

export type SettledState = 'settled' | 'unsettled';

/**
 * What this container knows about outbox items, bounded, least recently used out first:
 * `settled` (EventBridge accepted it, or the poison queue took it) or `unsettled` (delivery
 * tracking was asked and had no mark, so there is no need to ask again; only this container's
 * own publish settles it later). Lost with the container: then delivery tracking answers.
 */
export class SettledMemory {
  private readonly entries = new Map<string, SettledState>();

  constructor(readonly capacity: number = DEFAULT_SETTLED_MEMORY_SIZE) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`SettledMemory capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  stateOf(key: OutboxKey): SettledState | undefined {
    return this.entries.get(idOf(key));
  }

  remember(keys: readonly OutboxKey[], state: SettledState): void {
    for (const key of keys) {
      const id = idOf(key);
      // Delete first so the entry moves to the most recent end of the Map's insertion order.
      this.entries.delete(id);
      this.entries.set(id, state);
    }
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.capacity) break;
      this.entries.delete(oldest);
    }
  }
}

const idOf = (key: OutboxKey): string => describeKey(key) ?? '';

/** Stream sequence numbers are decimal strings of up to 40 digits: longer is later, then by digits. */
const laterThan = (a: string, b: string): boolean => a.length > b.length || (a.length === b.length && a > b);

/**
 * How far into each stream this container has handed records to publish: the highest sequence
 * number seen per `eventSourceARN`. A record at or below it may have been published already (Lambda
 * hands records back after a partial batch response, an error or a timeout); one above it is new
 * to this container.
 *
 * Sequence numbers increase within a shard
 * (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_StreamRecord.html),
 * but a Lambda stream record names its stream, not its shard
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html#services-ddb-params), and a container
 * may serve batches of several shards in turn. So the mark is kept per stream: a retried record of
 * any shard is at or below it (it was seen), which is what must never be missed; a fresh record of
 * another shard whose numbers run lower is looked up needlessly (a read, never a duplicate). What
 * this container never saw (a retry that lands on another warm container) is published without a
 * lookup: a duplicate, never a loss, which consumers' eventId deduplication absorbs.
 */
export class HandedPositions {
  private readonly highest = new Map<string, string>();

  /** True when `record` may have been handed to publish before (or carries no sequence number). */
  mayHaveHandled(record: StreamRecordPosition | undefined): boolean {
    const sequenceNumber = record?.dynamodb?.SequenceNumber;
    if (sequenceNumber === undefined) return true;
    const highest = this.highest.get(record?.eventSourceARN ?? '');
    return highest !== undefined && !laterThan(sequenceNumber, highest);
  }

  /** These records are handed to publish. */
  handed(records: readonly (StreamRecordPosition | undefined)[]): void {
    for (const record of records) {
      const sequenceNumber = record?.dynamodb?.SequenceNumber;
      if (sequenceNumber === undefined) continue;
      const stream = record?.eventSourceARN ?? '';
      const highest = this.highest.get(stream);
      if (highest === undefined || laterThan(sequenceNumber, highest))
        this.highest.set(stream, sequenceNumber);
    }
  }
}

/** What of a stream record tells its position: its stream and its sequence number. */
export interface StreamRecordPosition {
  readonly eventSourceARN?: string;
  readonly dynamodb?: { readonly SequenceNumber?: string };
}
