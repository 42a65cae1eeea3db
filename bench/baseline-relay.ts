import {
  type _Record,
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { mapWithConcurrency } from '../packages/dynamodb-outbox/src/runtime/concurrency';
import type { OutboxLayout } from '../packages/dynamodb-outbox/src/runtime/layout';

/**
 * The floor the relay is measured against: read the stream with GetRecords and send each outbox
 * INSERT to EventBridge, 10 entries per PutEvents call, as many calls in flight as the relay
 * allows itself. Nothing else: no validation, no retries, no poison handling, no tracking, no
 * logging, no Lambda event shape. Whatever the relay spends beyond this is its overhead.
 */

export interface BaselineRelayOptions {
  readonly streams: DynamoDBStreamsClient;
  readonly streamArn: string;
  /** How outbox items are keyed: the relay's layout, so both pick the same records. */
  readonly layout: OutboxLayout;
  readonly eventBridge: EventBridgeClient;
  readonly eventBusName: string;
  readonly source: string;
  /** Pause after an empty GetRecords, as a Lambda poller does (4 polls a second). */
  readonly pollIntervalMs: number;
  /** PutEvents calls in flight at once. */
  readonly concurrency: number;
  /** Called after each PutEvents call with the number of entries EventBridge accepted. */
  readonly onPublished?: (accepted: number) => void;
}

export interface BaselineStats {
  getRecordsCalls: number;
  recordsRead: number;
  putEventsCalls: number;
  published: number;
  failedEntries: number;
}

const ENTRIES_PER_CALL = 10;

const toEntry = (record: _Record, options: BaselineRelayOptions): PutEventsRequestEntry | undefined => {
  const { layout } = options;
  const keys = record.dynamodb?.Keys;
  const sk = keys?.[layout.sortKey]?.S;
  const image = record.dynamodb?.NewImage;
  if (record.eventName !== 'INSERT' || !keys || !sk?.startsWith(layout.sortKeyPrefix) || !image)
    return undefined;
  return {
    Source: options.source,
    DetailType: image.eventType?.S ?? 'Unknown',
    Detail: JSON.stringify(unmarshall(image as Parameters<typeof unmarshall>[0])),
    EventBusName: options.eventBusName,
  };
};

export class BaselineRelay {
  readonly stats: BaselineStats = {
    getRecordsCalls: 0,
    recordsRead: 0,
    putEventsCalls: 0,
    published: 0,
    failedEntries: 0,
  };
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly wakers = new Set<() => void>();

  constructor(private readonly options: BaselineRelayOptions) {}

  async start(): Promise<void> {
    this.running = true;
    const { StreamDescription } = await this.options.streams.send(
      new DescribeStreamCommand({ StreamArn: this.options.streamArn }),
    );
    const shards = StreamDescription?.Shards ?? [];
    if (shards.length === 0) throw new Error('The stream has no shard yet: write an item before starting');
    this.loops = shards.flatMap((shard) => (shard.ShardId ? [this.readShard(shard.ShardId)] : []));
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const wake of this.wakers) wake();
    await Promise.all(this.loops);
  }

  private async readShard(shardId: string): Promise<void> {
    const { streams, streamArn } = this.options;
    let { ShardIterator: iterator } = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    while (this.running && iterator) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      this.stats.getRecordsCalls++;
      iterator = page.NextShardIterator;
      const records = page.Records ?? [];
      this.stats.recordsRead += records.length;
      const outgoing = records.flatMap((r) => toEntry(r, this.options) ?? []);
      const calls: PutEventsRequestEntry[][] = [];
      for (let i = 0; i < outgoing.length; i += ENTRIES_PER_CALL)
        calls.push(outgoing.slice(i, i + ENTRIES_PER_CALL));
      await mapWithConcurrency(calls, this.options.concurrency, async (call) => {
        const result = await this.options.eventBridge.send(new PutEventsCommand({ Entries: call }));
        const failed = result.FailedEntryCount ?? 0;
        this.stats.putEventsCalls++;
        this.stats.failedEntries += failed;
        this.stats.published += call.length - failed;
        this.options.onPublished?.(call.length - failed);
      });
      if (records.length === 0) await this.pause();
    }
  }

  private pause(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, this.options.pollIntervalMs);
      this.wakers.add(wake);
    });
  }
}
