import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { mapWithConcurrency } from '../runtime/concurrency.js';
import type { OutboxKey, OutboxLayout } from '../runtime/layout.js';
import { type PendingPage, toPage } from './pending-outbox.js';

/**
 * Where the reconciler keeps the events that failed retryably, one small item each, in the table
 * it keeps its watermark in. The partition does not look like a time-ordered partition
 * (`<minute>#<shard>`) and carries no index attribute, so neither listing ever reads it as an
 * outbox item; sort keys start with `[`, never with the outbox prefix, so the relay's stream
 * filter drops their writes.
 */
export const STUCK_PARTITION = 'RECONCILER#RETRY';

/** First character of every stuck event's sort key (a JSON array of the item's key values). */
const STUCK_SORT_START = '[';

/** How the reconciler retries an event that keeps failing retryably, and when it gives up. */
export interface RetryPolicy {
  /** Runs that try an event before it is parked; the last failure parks it. */
  readonly maxAttempts: number;
  /** Wait after the first failure; doubled after each next one. */
  readonly firstBackoffSeconds: number;
  /** Longest wait between two attempts. */
  readonly maxBackoffSeconds: number;
}

/**
 * With the reconciler's 5-minute schedule: attempts 5, 15, 35, 75, 155 minutes after the first
 * failure, then every 4 hours; the 10th failure, about 17 hours in, parks the event. An outage of
 * the bus or its permissions that lasts hours is ridden out; one that lasts a day is not waited for.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 10,
  firstBackoffSeconds: 300,
  maxBackoffSeconds: 4 * 3600,
};

/** When an event that has now failed `attempts` times is tried again. */
export const nextAttemptAfter = (policy: RetryPolicy, attempts: number, failedAt: Date): Date => {
  const backoff = Math.min(policy.firstBackoffSeconds * 2 ** (attempts - 1), policy.maxBackoffSeconds);
  return new Date(failedAt.getTime() + backoff * 1000);
};

/** An outbox item the reconciler failed to republish, and where its retries stand. */
export interface StuckEvent {
  readonly key: OutboxKey;
  /** Runs that tried it and failed. */
  readonly attempts: number;
  readonly firstFailedAt: string;
  readonly nextAttemptAt: string;
  readonly lastErrorCode: string;
  readonly lastErrorMessage: string;
  /** The item's own TTL (epoch seconds), copied so that the entry goes with the item. */
  readonly expiresAt?: number;
}

export interface StuckEventsOptions {
  readonly tableName: string;
  /** The outbox's key shape: the entries' key attributes, and how to read the items they point at. */
  readonly layout: OutboxLayout;
  /** Requests in flight at once. @default 16 */
  readonly concurrency?: number;
}

/** The one sort key of `key`'s entry: its attributes by name, as a JSON array of [name, value]. */
export const stuckIdOf = (key: OutboxKey): string =>
  JSON.stringify(Object.entries(key).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/**
 * The stuck events of one outbox table: read at the start of each reconciler run, written when an
 * event fails again, deleted once it is published or parked.
 */
export class StuckEvents {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly options: StuckEventsOptions,
  ) {
    const prefix = options.layout.sortKeyPrefix;
    if (STUCK_SORT_START.startsWith(prefix))
      throw new Error(
        `sortKeyPrefix "${prefix}" would make the reconciler's retry entries look like outbox items`,
      );
  }

  /** An item's TTL (epoch seconds), if it has one: a stuck event is parked before it. */
  expiresAtOf(item: Readonly<Record<string, unknown>>): number | undefined {
    const expiresAt = item[this.options.layout.timeToLiveAttribute];
    return typeof expiresAt === 'number' ? expiresAt : undefined;
  }

  /** Up to `limit` stuck events, in key order. */
  async list(limit: number): Promise<StuckEvent[]> {
    const { layout, tableName } = this.options;
    const found: StuckEvent[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const response = await this.doc.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': layout.partitionKey },
          ExpressionAttributeValues: { ':pk': STUCK_PARTITION },
          ConsistentRead: true,
          Limit: limit - found.length,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of response.Items ?? []) {
        const stuck = this.parse(item);
        if (stuck) found.push(stuck);
      }
      startKey = response.LastEvaluatedKey;
    } while (startKey !== undefined && found.length < limit);
    return found;
  }

  /**
   * The outbox items of `stuck` as stored now, read consistently, as a page to publish. Items that
   * are gone or past their TTL are `gone`: republished now, one could take effect again once
   * consumers have forgotten its eventId.
   */
  async reread(stuck: readonly StuckEvent[], now: Date): Promise<{ page: PendingPage; gone: StuckEvent[] }> {
    const { layout, tableName } = this.options;
    const items = await mapWithConcurrency(stuck, this.options.concurrency ?? 16, async (event) => {
      const { Item } = await this.doc.send(
        new GetCommand({ TableName: tableName, Key: { ...event.key }, ConsistentRead: true }),
      );
      return Item;
    });
    const nowSeconds = Math.floor(now.getTime() / 1000);
    const gone = stuck.filter((_, i) => {
      const expiresAt = items[i]?.[layout.timeToLiveAttribute];
      return items[i] === undefined || (typeof expiresAt === 'number' && expiresAt <= nowSeconds);
    });
    const present = items.filter(
      (item, i): item is Record<string, unknown> => !gone.includes(stuck[i] as StuckEvent),
    );
    return { page: toPage(layout, present, undefined, present.length), gone };
  }

  /** Saves each event's new state; returns the keys whose state could not be saved. */
  save(events: readonly StuckEvent[]): Promise<OutboxKey[]> {
    const { layout, tableName } = this.options;
    return this.each(events, (event) =>
      this.doc.send(
        new PutCommand({
          TableName: tableName,
          Item: {
            [layout.partitionKey]: STUCK_PARTITION,
            [layout.sortKey]: stuckIdOf(event.key),
            outboxKey: { ...event.key },
            attempts: event.attempts,
            firstFailedAt: event.firstFailedAt,
            nextAttemptAt: event.nextAttemptAt,
            lastErrorCode: event.lastErrorCode,
            lastErrorMessage: event.lastErrorMessage,
            ...(event.expiresAt === undefined ? {} : { [layout.timeToLiveAttribute]: event.expiresAt }),
          },
        }),
      ),
    );
  }

  /** Deletes the entries of events that are published or parked; returns the keys it could not. */
  forget(keys: readonly OutboxKey[]): Promise<OutboxKey[]> {
    const { layout, tableName } = this.options;
    return this.each(
      keys.map((key) => ({ key })),
      ({ key }) =>
        this.doc.send(
          new DeleteCommand({
            TableName: tableName,
            Key: { [layout.partitionKey]: STUCK_PARTITION, [layout.sortKey]: stuckIdOf(key) },
          }),
        ),
    );
  }

  private async each<T extends { readonly key: OutboxKey }>(
    entries: readonly T[],
    write: (entry: T) => Promise<unknown>,
  ): Promise<OutboxKey[]> {
    const failed = await mapWithConcurrency(entries, this.options.concurrency ?? 16, async (entry) => {
      try {
        await write(entry);
        return undefined;
      } catch {
        return entry.key;
      }
    });
    return failed.filter((key): key is OutboxKey => key !== undefined);
  }

  private parse(item: Record<string, unknown>): StuckEvent | undefined {
    const { outboxKey, attempts, firstFailedAt, nextAttemptAt, lastErrorCode, lastErrorMessage } = item;
    const expiresAt = item[this.options.layout.timeToLiveAttribute];
    if (
      typeof outboxKey !== 'object' ||
      outboxKey === null ||
      typeof attempts !== 'number' ||
      typeof firstFailedAt !== 'string' ||
      typeof nextAttemptAt !== 'string'
    )
      return undefined;
    return {
      key: Object.fromEntries(Object.entries(outboxKey).map(([name, value]) => [name, String(value)])),
      attempts,
      firstFailedAt,
      nextAttemptAt,
      lastErrorCode: String(lastErrorCode ?? ''),
      lastErrorMessage: String(lastErrorMessage ?? ''),
      ...(typeof expiresAt === 'number' ? { expiresAt } : {}),
    };
  }
}
