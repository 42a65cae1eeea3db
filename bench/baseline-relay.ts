import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
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
  /**
   * Also mark each published item as delivery tracking does, so the tracking relay can be
   * compared with a loop making the same writes: `update` is the relay's way (one conditional
   * UpdateItem per event, 16 in flight); `batch-put` writes the same final items with
   * BatchWriteItem (25 Puts per request, 4 in flight), the cheaper-in-requests alternative;
   * `transact-update` the same updates 100 to a TransactWriteItems (4 in flight);
   * `batch-delete` deletes the items instead (BatchWriteItem, 25 Deletes per request);
   * `receipt` writes one receipt item per 100 events (as the relay does per invocation).
   */
  readonly markPublished?: {
    readonly client: DynamoDBClient;
    readonly tableName: string;
    readonly mode: MarkingMode;
  };
}

export type MarkingMode = 'update' | 'batch-put' | 'transact-update' | 'batch-delete' | 'receipt';

export interface BaselineStats {
  getRecordsCalls: number;
  recordsRead: number;
  putEventsCalls: number;
  published: number;
  failedEntries: number;
  updates: number;
}

const ENTRIES_PER_CALL = 10;
const UPDATES_IN_FLIGHT = 16;
const PUTS_PER_BATCH = 25;
const UPDATES_PER_TRANSACTION = 100;
const EVENTS_PER_RECEIPT = 100;
const BATCHES_IN_FLIGHT = 4;
const DAY_SECONDS = 24 * 60 * 60;

interface Outgoing {
  readonly entry: PutEventsRequestEntry;
  readonly key: Record<string, AttributeValue>;
  readonly image: Record<string, AttributeValue>;
}

const toOutgoing = (record: _Record, options: BaselineRelayOptions): Outgoing | undefined => {
  const { layout } = options;
  const keys = record.dynamodb?.Keys;
  const sk = keys?.[layout.sortKey]?.S;
  const image = record.dynamodb?.NewImage;
  if (record.eventName !== 'INSERT' || !keys || !sk?.startsWith(layout.sortKeyPrefix) || !image)
    return undefined;
  return {
    entry: {
      Source: options.source,
      DetailType: image.eventType?.S ?? 'Unknown',
      Detail: JSON.stringify(unmarshall(image as Parameters<typeof unmarshall>[0])),
      EventBusName: options.eventBusName,
    },
    key: keys as Record<string, AttributeValue>,
    image: image as Record<string, AttributeValue>,
  };
};

export class BaselineRelay {
  readonly stats: BaselineStats = {
    getRecordsCalls: 0,
    recordsRead: 0,
    putEventsCalls: 0,
    published: 0,
    failedEntries: 0,
    updates: 0,
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
      const outgoing = records.flatMap((r) => toOutgoing(r, this.options) ?? []);
      const calls: Outgoing[][] = [];
      for (let i = 0; i < outgoing.length; i += ENTRIES_PER_CALL)
        calls.push(outgoing.slice(i, i + ENTRIES_PER_CALL));
      await mapWithConcurrency(calls, this.options.concurrency, async (call) => {
        const result = await this.options.eventBridge.send(
          new PutEventsCommand({ Entries: call.map((o) => o.entry) }),
        );
        const failed = result.FailedEntryCount ?? 0;
        this.stats.putEventsCalls++;
        this.stats.failedEntries += failed;
        if (!this.options.markPublished) {
          this.stats.published += call.length - failed;
          this.options.onPublished?.(call.length - failed);
        }
      });
      if (this.options.markPublished) await this.markPublished(outgoing);
      if (records.length === 0) await this.pause();
    }
  }

  private async markPublished(outgoing: readonly Outgoing[]): Promise<void> {
    const mark = this.options.markPublished;
    if (!mark) return;
    const { layout } = this.options;
    // The marking candidates are measured on the orders table (same-table layout, pending index).
    if (layout.kind !== 'same-table') throw new Error('Marking candidates need a same-table layout');
    const now = new Date();
    const publishedAt = now.toISOString();
    const expiresAt = String(Math.floor(now.getTime() / 1000) + 7 * DAY_SECONDS);
    if (mark.mode === 'update') {
      await mapWithConcurrency(outgoing, UPDATES_IN_FLIGHT, async ({ key }) => {
        await mark.client.send(
          new UpdateItemCommand({
            TableName: mark.tableName,
            Key: key,
            // The relay's update (DynamoDbDeliveryTracker.markPublished), written out.
            UpdateExpression: 'SET #publishedAt = :at, #expiresAt = :expiresAt REMOVE #pendingShard',
            ConditionExpression: 'attribute_exists(#pk)',
            ExpressionAttributeNames: {
              '#publishedAt': 'publishedAt',
              '#expiresAt': layout.timeToLiveAttribute,
              '#pendingShard': layout.pendingIndex.shardAttribute,
              '#pk': layout.partitionKey,
            },
            ExpressionAttributeValues: { ':at': { S: publishedAt }, ':expiresAt': { N: expiresAt } },
          }),
        );
        this.stats.updates++;
      });
    } else if (mark.mode === 'transact-update') {
      const chunks: Outgoing[][] = [];
      for (let i = 0; i < outgoing.length; i += UPDATES_PER_TRANSACTION)
        chunks.push(outgoing.slice(i, i + UPDATES_PER_TRANSACTION));
      await mapWithConcurrency(chunks, BATCHES_IN_FLIGHT, async (chunk) => {
        await mark.client.send(
          new TransactWriteItemsCommand({
            TransactItems: chunk.map(({ key }) => ({
              Update: {
                TableName: mark.tableName,
                Key: key,
                UpdateExpression: 'SET #publishedAt = :at, #expiresAt = :expiresAt REMOVE #pendingShard',
                ConditionExpression: 'attribute_exists(#pk)',
                ExpressionAttributeNames: {
                  '#publishedAt': 'publishedAt',
                  '#expiresAt': layout.timeToLiveAttribute,
                  '#pendingShard': layout.pendingIndex.shardAttribute,
                  '#pk': layout.partitionKey,
                },
                ExpressionAttributeValues: { ':at': { S: publishedAt }, ':expiresAt': { N: expiresAt } },
              },
            })),
          }),
        );
        this.stats.updates += chunk.length;
      });
    } else if (mark.mode === 'receipt') {
      const chunks: Outgoing[][] = [];
      for (let i = 0; i < outgoing.length; i += EVENTS_PER_RECEIPT)
        chunks.push(outgoing.slice(i, i + EVENTS_PER_RECEIPT));
      await mapWithConcurrency(chunks, BATCHES_IN_FLIGHT, async (chunk) => {
        await mark.client.send(
          new PutItemCommand({
            TableName: mark.tableName,
            Item: {
              [layout.partitionKey]: { S: `RECEIPT#${publishedAt.slice(0, 16)}` },
              [layout.sortKey]: { S: `RECEIPT#${publishedAt}#${randomUUID()}` },
              // A same-table sort key is not unique on its own: the receipt lists whole keys.
              published: {
                SS: chunk.map(({ key }) => `${key[layout.partitionKey]?.S}|${key[layout.sortKey]?.S}`),
              },
              [layout.timeToLiveAttribute]: { N: expiresAt },
            },
          }),
        );
        this.stats.updates += chunk.length;
      });
    } else if (mark.mode === 'batch-delete') {
      const batches: Outgoing[][] = [];
      for (let i = 0; i < outgoing.length; i += PUTS_PER_BATCH)
        batches.push(outgoing.slice(i, i + PUTS_PER_BATCH));
      await mapWithConcurrency(batches, BATCHES_IN_FLIGHT, async (batch) => {
        let requests = batch.map(({ key }) => ({ DeleteRequest: { Key: key } }));
        while (requests.length > 0) {
          const { UnprocessedItems } = await mark.client.send(
            new BatchWriteItemCommand({ RequestItems: { [mark.tableName]: requests } }),
          );
          requests = (UnprocessedItems?.[mark.tableName] ?? []).flatMap((r) =>
            r.DeleteRequest?.Key ? [{ DeleteRequest: { Key: r.DeleteRequest.Key } }] : [],
          );
        }
        this.stats.updates += batch.length;
      });
    } else {
      const batches: Outgoing[][] = [];
      for (let i = 0; i < outgoing.length; i += PUTS_PER_BATCH)
        batches.push(outgoing.slice(i, i + PUTS_PER_BATCH));
      await mapWithConcurrency(batches, BATCHES_IN_FLIGHT, async (batch) => {
        let requests: Array<{ PutRequest: { Item: Record<string, AttributeValue> } }> = batch.map(
          ({ image }) => {
            const { [layout.pendingIndex.shardAttribute]: _published, ...rest } = image;
            return {
              PutRequest: {
                Item: {
                  ...rest,
                  publishedAt: { S: publishedAt },
                  [layout.timeToLiveAttribute]: { N: expiresAt },
                },
              },
            };
          },
        );
        while (requests.length > 0) {
          const { UnprocessedItems } = await mark.client.send(
            new BatchWriteItemCommand({ RequestItems: { [mark.tableName]: requests } }),
          );
          requests = (UnprocessedItems?.[mark.tableName] ?? []).flatMap((r) =>
            r.PutRequest?.Item ? [{ PutRequest: { Item: r.PutRequest.Item } }] : [],
          );
        }
        this.stats.updates += batch.length;
      });
    }
    this.stats.published += outgoing.length;
    this.options.onPublished?.(outgoing.length);
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
