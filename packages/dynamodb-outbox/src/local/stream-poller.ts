import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type AttributeValue as SdkAttributeValue,
  type _Record as SdkRecord,
  type Shard,
  type ShardIteratorType,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type {
  AttributeValue,
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
  StreamRecord,
} from 'aws-lambda';
import { compileFilterCriteria, type EventMatcher } from './event-pattern.js';

/*
 * A local stand-in for Lambda's event source mapping (ESM) on a DynamoDB stream, so the relay runs
 * offline with the same handler and the same filter object the stack deploys.
 *
 * Mirrored (Lambda developer guide: "Using AWS Lambda with Amazon DynamoDB" (with-ddb),
 * "Lambda parameters for DynamoDB event source mappings" (services-ddb-params), "Configuring partial
 * batch response with DynamoDB and Lambda" (services-ddb-batchfailurereporting), "Retain discarded
 * records for a DynamoDB event source" (services-dynamodb-errors), "Control which events Lambda
 * sends to your function" (invocation-eventfiltering), "Lambda event source mappings" batching):
 * - Filter criteria: a record is delivered when any filter pattern matches it; filtered-out records
 *   are dropped before invocation and the checkpoint moves past them.
 * - Starting position TRIM_HORIZON or LATEST; shards created later are read from their start.
 * - Per-shard order: one batch in flight per shard, records in sequence-number order; shards run
 *   concurrently; a child shard waits until its parent shard is fully processed (shard splits);
 *   a closed shard is finished when GetRecords returns no NextShardIterator.
 * - Batch size (default 100, max 10,000) and batching window: invoke when the batch is full, the
 *   window has elapsed since the first buffered record, or the batch would pass 6 MB.
 * - A thrown error fails the whole batch, which is retried from its first record.
 * - BisectBatchOnFunctionError: a failed batch is split in two and the halves are retried
 *   separately; splitting does not count towards the retry quota.
 * - ReportBatchItemFailures: the checkpoint moves to just before the lowest failed sequence number
 *   and only the records from there are retried; an empty or null list (or response) is success;
 *   an empty string, null or unknown itemIdentifier, or a malformed response fails the whole batch.
 *   Without the setting the response is ignored, as Lambda ignores it.
 * - MaximumRetryAttempts and MaximumRecordAgeInSeconds (-1 = infinite), then the records are
 *   discarded and an invocation record (requestContext.condition RetryAttemptsExhausted or
 *   RecordAgeExceeded, DDBStreamBatchInfo with shard id, first/last sequence numbers, arrival
 *   times, batch size, stream ARN) goes to the on-failure destination.
 * - Event shape: the Lambda DynamoDB event (eventSourceARN, epoch-second
 *   ApproximateCreationDateTime, base64 binary attributes); TTL deletions arrive as REMOVE with the
 *   dynamodb.amazonaws.com service identity.
 *
 * Not mirrored: ParallelizationFactor (always 1), tumbling windows, function timeouts and
 * throttles, the 4-polls-per-second shard limit beyond a configurable interval, S3/SNS
 * destinations (the destination is a callback; local/failure-destination.ts writes what an S3
 * destination would hold). Retry attempts and record age accept values below
 * Lambda's minimums so tests run fast. DynamoDB Local rounds ApproximateCreationDateTime down to
 * the minute, so record age is measured from when the poller first read the record (never earlier
 * than its creation time); a restarted poller measures age afresh. The on-failure callback gets
 * the invocation record with `payload`, as an S3 destination does, and the discarded records
 * again as objects (an offline convenience); when the
 * callback throws, the shard waits and retries it rather than losing the records.
 */

/** The function under test; its result is read as a DynamoDBBatchResponse (or nothing). */
export type StreamHandler = (
  event: DynamoDBStreamEvent,
) => Promise<DynamoDBBatchResponse | undefined | unknown>;

/** What Lambda sends to an on-failure destination for a discarded stream batch. */
export interface StreamFailureRecord {
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded';
    readonly approximateInvokeCount: number;
  };
  readonly responseContext?: {
    readonly statusCode: number;
    readonly executedVersion: string;
    readonly functionError?: string;
  };
  readonly version: '1.0';
  readonly timestamp: string;
  readonly DDBStreamBatchInfo: {
    readonly shardId: string;
    readonly startSequenceNumber: string;
    readonly endSequenceNumber: string;
    readonly approximateArrivalOfFirstRecord: string;
    readonly approximateArrivalOfLastRecord: string;
    readonly batchSize: number;
    readonly streamArn: string;
  };
  /**
   * The whole invocation event (`{"Records": [...]}`, as JSON text) of the discarded records. On
   * AWS only an S3 destination gets it ("For Amazon S3 destinations, Lambda also sends the entire
   * invocation record along with the metadata", services-dynamodb-errors); SQS and SNS get the
   * metadata alone, so a stand-in for those drops it.
   */
  readonly payload: string;
}

export type OnFailureDestination = (
  failure: StreamFailureRecord,
  records: readonly DynamoDBRecord[],
) => Promise<void> | void;

export interface ShardCheckpoint {
  /** Last sequence number processed (delivered, filtered out or discarded). */
  readonly sequenceNumber?: string;
  /** The shard is closed and every record in it was processed. */
  readonly completed?: boolean;
}

/** Where the poller keeps its position, so a restarted poller resumes instead of starting over. */
export interface CheckpointStore {
  load(streamArn: string): Promise<Record<string, ShardCheckpoint>>;
  save(streamArn: string, shardId: string, checkpoint: ShardCheckpoint): Promise<void>;
}

export class InMemoryCheckpointStore implements CheckpointStore {
  private readonly streams = new Map<string, Record<string, ShardCheckpoint>>();

  async load(streamArn: string): Promise<Record<string, ShardCheckpoint>> {
    return { ...(this.streams.get(streamArn) ?? {}) };
  }

  async save(streamArn: string, shardId: string, checkpoint: ShardCheckpoint): Promise<void> {
    this.streams.set(streamArn, { ...(this.streams.get(streamArn) ?? {}), [shardId]: checkpoint });
  }
}

/** Checkpoints in a JSON file (written atomically), for a DynamoDB Local that keeps its data on disk. */
export class FileCheckpointStore implements CheckpointStore {
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly path: string) {}

  async load(streamArn: string): Promise<Record<string, ShardCheckpoint>> {
    return { ...((await this.readAll())[streamArn] ?? {}) };
  }

  save(streamArn: string, shardId: string, checkpoint: ShardCheckpoint): Promise<void> {
    // Serialised so that concurrent shard workers never interleave read-modify-write cycles.
    this.writes = this.writes.then(async () => {
      const all = await this.readAll();
      all[streamArn] = { ...(all[streamArn] ?? {}), [shardId]: checkpoint };
      const temporary = `${this.path}.${process.pid}.tmp`;
      await writeFile(temporary, JSON.stringify(all, null, 2));
      await rename(temporary, this.path);
    });
    return this.writes;
  }

  private async readAll(): Promise<Record<string, Record<string, ShardCheckpoint>>> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as Record<string, Record<string, ShardCheckpoint>>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
  }
}

export interface PollerLogger {
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/**
 * One shard's read errors, said once rather than per retry: a shard that cannot be read is retried
 * every `retryDelayMs` (100 ms), so one line per retry was 10 lines a second per shard while
 * DynamoDB was away. Said when it starts, again when the error changes or ten times as many reads
 * have failed, and once when a read succeeds again.
 */
class ShardReadErrors {
  private failing:
    | { readonly since: number; errors: number; said: { error: string; magnitude: number } }
    | undefined;

  constructor(
    private readonly logger: PollerLogger,
    private readonly shardId: string,
  ) {}

  failed(error: string): void {
    const { shardId } = this;
    if (this.failing === undefined) {
      this.failing = { since: Date.now(), errors: 1, said: { error, magnitude: 0 } };
      this.logger.warn('Stream poller error; retrying the shard', { shardId, error });
      return;
    }
    const errors = ++this.failing.errors;
    const magnitude = Math.floor(Math.log10(errors));
    if (error === this.failing.said.error && magnitude === this.failing.said.magnitude) return;
    this.failing.said = { error, magnitude };
    this.logger.warn('Stream poller still failing on the shard', {
      shardId,
      error,
      errors,
      failingForSeconds: Math.round((Date.now() - this.failing.since) / 1000),
    });
  }

  read(): void {
    if (this.failing === undefined) return;
    const seconds = Math.round((Date.now() - this.failing.since) / 1000);
    this.logger.warn(`Shard ${this.shardId} recovered after ${seconds} s`, {
      shardId: this.shardId,
      errors: this.failing.errors,
    });
    this.failing = undefined;
  }
}

const consoleLogger: PollerLogger = {
  warn: (message, extra) => console.warn(JSON.stringify({ level: 'WARN', message, ...extra })),
  error: (message, extra) => console.error(JSON.stringify({ level: 'ERROR', message, ...extra })),
};

export interface StreamPollerOptions {
  readonly client: DynamoDBStreamsClient;
  readonly streamArn: string;
  readonly handler: StreamHandler;
  /**
   * FilterCriteria patterns (objects, or JSON strings as CloudFormation carries them).
   * @default [] every record is delivered
   */
  readonly filterPatterns?: readonly unknown[];
  /** @default 100 */
  readonly batchSize?: number;
  /** MaximumBatchingWindowInSeconds, in milliseconds. @default 0 */
  readonly maximumBatchingWindowMs?: number;
  /** @default 'TRIM_HORIZON' */
  readonly startingPosition?: 'TRIM_HORIZON' | 'LATEST';
  /** FunctionResponseTypes: ['ReportBatchItemFailures']. @default false */
  readonly reportBatchItemFailures?: boolean;
  /** @default false */
  readonly bisectBatchOnFunctionError?: boolean;
  /** -1 retries until the record expires. @default -1 */
  readonly maximumRetryAttempts?: number;
  /** -1 never discards by age. Fractions allowed offline. @default -1 */
  readonly maximumRecordAgeSeconds?: number;
  /** On-failure destination. @default discarded batches are only logged */
  readonly onFailure?: OnFailureDestination;
  /** @default a new InMemoryCheckpointStore */
  readonly checkpoints?: CheckpointStore;
  /** Pause between polls of a shard that returned nothing (Lambda polls 4 times a second). @default 250 */
  readonly pollIntervalMs?: number;
  /** First retry delay after a failed batch, doubled per attempt. @default 100 */
  readonly retryDelayMs?: number;
  /** @default 5000 */
  readonly maxRetryDelayMs?: number;
  /** How often the stream is described to find new shards. @default 2000 */
  readonly shardDiscoveryIntervalMs?: number;
  /** Reported in on-failure invocation records. @default a local placeholder ARN */
  readonly functionArn?: string;
  /** @default JSON lines on the console */
  readonly logger?: PollerLogger;
}

export interface StreamPollerStats {
  /** GetRecords calls. */
  polls: number;
  invocations: number;
  recordsDelivered: number;
  recordsFilteredOut: number;
  failedInvocations: number;
  partialFailures: number;
  bisections: number;
  recordsDiscarded: number;
}

const MAX_BATCH_SIZE = 10_000;
/** Lambda's synchronous invocation payload limit, which also caps a stream batch. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const GET_RECORDS_LIMIT = 1000;
const TTL_DELETION_IDENTITY = { type: 'Service', principalId: 'dynamodb.amazonaws.com' };

/** A record read from the shard, kept until the checkpoint moves past it. */
interface BufferedRecord {
  readonly lambdaRecord: DynamoDBRecord;
  readonly sequenceNumber: string;
  readonly matches: boolean;
  readonly payloadBytes: number;
  /** When the poller first read it (epoch ms): the batching window and record age count from here. */
  readonly readAt: number;
  readonly arrival: Date;
}

/** Look up the stream of a table (the ARN changes whenever a stream is re-enabled). */
export const latestStreamArn = async (dynamodb: DynamoDBClient, tableName: string): Promise<string> => {
  const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  if (!Table?.LatestStreamArn || Table.StreamSpecification?.StreamEnabled !== true)
    throw new Error(`Table ${tableName} has no enabled stream`);
  return Table.LatestStreamArn;
};

const toLambdaAttribute = (value: SdkAttributeValue): AttributeValue => {
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  if (value.NULL !== undefined) return { NULL: value.NULL };
  if (value.SS !== undefined) return { SS: value.SS };
  if (value.NS !== undefined) return { NS: value.NS };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString('base64')) };
  if (value.L !== undefined) return { L: value.L.map(toLambdaAttribute) };
  if (value.M !== undefined) return { M: toLambdaImage(value.M) };
  throw new Error(`Unsupported attribute value: ${JSON.stringify(value)}`);
};

const toLambdaImage = (image: Record<string, SdkAttributeValue>): Record<string, AttributeValue> =>
  Object.fromEntries(Object.entries(image).map(([name, value]) => [name, toLambdaAttribute(value)]));

/** The record exactly as the Lambda service hands it to a function. */
export const toLambdaRecord = (record: SdkRecord, streamArn: string): DynamoDBRecord => {
  const stream = record.dynamodb ?? {};
  const knownEvent =
    record.eventName === 'INSERT' || record.eventName === 'MODIFY' || record.eventName === 'REMOVE';
  // DynamoDB Local reports TTL deletions with an event name outside the three; on AWS they are
  // REMOVE records carrying the DynamoDB service identity.
  const ttlDeletion = !knownEvent && stream.NewImage === undefined;
  const dynamodb: StreamRecord = {
    ...(stream.ApproximateCreationDateTime
      ? { ApproximateCreationDateTime: Math.floor(stream.ApproximateCreationDateTime.getTime() / 1000) }
      : {}),
    ...(stream.Keys ? { Keys: toLambdaImage(stream.Keys) } : {}),
    ...(stream.NewImage ? { NewImage: toLambdaImage(stream.NewImage) } : {}),
    ...(stream.OldImage ? { OldImage: toLambdaImage(stream.OldImage) } : {}),
    ...(stream.SequenceNumber ? { SequenceNumber: stream.SequenceNumber } : {}),
    ...(stream.SizeBytes !== undefined ? { SizeBytes: stream.SizeBytes } : {}),
    ...(stream.StreamViewType ? { StreamViewType: stream.StreamViewType } : {}),
  };
  const identity = record.userIdentity ?? (ttlDeletion ? TTL_DELETION_IDENTITY : undefined);
  return {
    ...(record.eventID ? { eventID: record.eventID } : {}),
    eventName: knownEvent ? (record.eventName as 'INSERT' | 'MODIFY' | 'REMOVE') : 'REMOVE',
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    ...(record.awsRegion ? { awsRegion: record.awsRegion } : {}),
    dynamodb,
    eventSourceARN: streamArn,
    ...(identity ? { userIdentity: identity } : {}),
  };
};

type BatchOutcome =
  | { kind: 'success' }
  | { kind: 'partial'; failedIndex: number }
  | { kind: 'failure'; reason: string };

/** Interpret a handler's result the way the ESM does (services-ddb-batchfailurereporting). */
export const classifyResponse = (
  response: unknown,
  batch: readonly { sequenceNumber: string }[],
  reportBatchItemFailures: boolean,
): BatchOutcome => {
  if (!reportBatchItemFailures || response === undefined || response === null) return { kind: 'success' };
  if (typeof response !== 'object') return { kind: 'failure', reason: 'the response is not an object' };
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'success' };
  if (!Array.isArray(failures)) return { kind: 'failure', reason: 'batchItemFailures is not a list' };
  if (failures.length === 0) return { kind: 'success' };
  let lowest = Number.POSITIVE_INFINITY;
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '')
      return { kind: 'failure', reason: 'an itemIdentifier is missing, null or empty' };
    const index = batch.findIndex((r) => r.sequenceNumber === id);
    if (index < 0)
      return { kind: 'failure', reason: `itemIdentifier ${id} is not a sequence number in the batch` };
    lowest = Math.min(lowest, index);
  }
  return { kind: 'partial', failedIndex: lowest };
};

interface ShardWorker {
  readonly shardId: string;
  readonly done: Promise<void>;
}

/** Runs an ESM-like loop over every shard of one stream until `stop()`. */
export class StreamPoller {
  readonly stats: StreamPollerStats = {
    polls: 0,
    invocations: 0,
    recordsDelivered: 0,
    recordsFilteredOut: 0,
    failedInvocations: 0,
    partialFailures: 0,
    bisections: 0,
    recordsDiscarded: 0,
  };

  private readonly options: Required<
    Omit<StreamPollerOptions, 'onFailure' | 'filterPatterns' | 'logger' | 'checkpoints'>
  >;
  private readonly onFailure: OnFailureDestination | undefined;
  private readonly matches: EventMatcher;
  private readonly logger: PollerLogger;
  private readonly checkpoints: CheckpointStore;
  private readonly workers = new Map<string, ShardWorker>();
  private readonly shards = new Map<string, Shard>();
  /** Shards that existed when the poller first described the stream (LATEST applies to these). */
  private readonly initialShards = new Set<string>();
  private completed = new Set<string>();
  private checkpointed: Record<string, ShardCheckpoint> = {};
  private resumed = false;
  private firstDiscovery = true;
  private running = false;
  private crashed = false;
  private loop: Promise<void> | undefined;
  private readonly wakers = new Set<() => void>();

  constructor(options: StreamPollerOptions) {
    const batchSize = options.batchSize ?? 100;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE)
      throw new Error(`batchSize must be an integer from 1 to ${MAX_BATCH_SIZE}`);
    this.options = {
      client: options.client,
      streamArn: options.streamArn,
      handler: options.handler,
      batchSize,
      maximumBatchingWindowMs: options.maximumBatchingWindowMs ?? 0,
      startingPosition: options.startingPosition ?? 'TRIM_HORIZON',
      reportBatchItemFailures: options.reportBatchItemFailures ?? false,
      bisectBatchOnFunctionError: options.bisectBatchOnFunctionError ?? false,
      maximumRetryAttempts: options.maximumRetryAttempts ?? -1,
      maximumRecordAgeSeconds: options.maximumRecordAgeSeconds ?? -1,
      pollIntervalMs: options.pollIntervalMs ?? 250,
      retryDelayMs: options.retryDelayMs ?? 100,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 5000,
      shardDiscoveryIntervalMs: options.shardDiscoveryIntervalMs ?? 2000,
      functionArn: options.functionArn ?? 'arn:aws:lambda:us-east-1:000000000000:function:local-relay',
    };
    this.onFailure = options.onFailure;
    this.matches = compileFilterCriteria(options.filterPatterns ?? []);
    this.logger = options.logger ?? consoleLogger;
    this.checkpoints = options.checkpoints ?? new InMemoryCheckpointStore();
  }

  /** Begin polling in the background. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Stop as a crashed worker would: invocations in flight still finish (their side effects
   * happen), but no checkpoint is saved from now on, so a poller started later redelivers them.
   */
  async crash(): Promise<void> {
    this.crashed = true;
    await this.stop();
  }

  /** Stop polling; resolves once in-flight invocations have finished and checkpoints are saved. */
  async stop(): Promise<void> {
    this.running = false;
    for (const wake of this.wakers) wake();
    await this.loop;
    await Promise.all([...this.workers.values()].map((w) => w.done));
  }

  private async run(): Promise<void> {
    this.checkpointed = await this.checkpoints.load(this.options.streamArn);
    this.resumed = Object.keys(this.checkpointed).length > 0;
    this.completed = new Set(
      Object.entries(this.checkpointed)
        .filter(([, c]) => c.completed)
        .map(([id]) => id),
    );
    while (this.running) {
      try {
        await this.discoverShards();
        this.startReadyShards();
      } catch (error) {
        this.logger.warn('Stream poller could not describe the stream; retrying', { error: String(error) });
      }
      await this.sleep(this.options.shardDiscoveryIntervalMs);
    }
  }

  private async discoverShards(): Promise<void> {
    let exclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription } = await this.options.client.send(
        new DescribeStreamCommand({
          StreamArn: this.options.streamArn,
          ...(exclusiveStartShardId ? { ExclusiveStartShardId: exclusiveStartShardId } : {}),
        }),
      );
      for (const shard of StreamDescription?.Shards ?? []) {
        if (shard.ShardId && !this.shards.has(shard.ShardId)) {
          this.shards.set(shard.ShardId, shard);
          if (this.firstDiscovery) this.initialShards.add(shard.ShardId);
          // With LATEST, shards already closed when the mapping starts hold only old records.
          const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
          if (this.firstDiscovery && !this.resumed && this.options.startingPosition === 'LATEST' && closed)
            this.completed.add(shard.ShardId);
        } else if (shard.ShardId) {
          this.shards.set(shard.ShardId, shard);
        }
      }
      exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    this.firstDiscovery = false;
  }

  /** A shard starts once its parent (if still in the stream) has been fully processed. */
  private startReadyShards(): void {
    for (const [shardId, shard] of this.shards) {
      if (this.completed.has(shardId) || this.workers.has(shardId) || !this.running) continue;
      const parent = shard.ParentShardId;
      if (parent && this.shards.has(parent) && !this.completed.has(parent)) continue;
      const startingAtLatest =
        !this.resumed && this.options.startingPosition === 'LATEST' && this.initialShards.has(shardId);
      const done = this.runShard(shardId, startingAtLatest).catch((error: unknown) => {
        this.logger.error('Shard worker stopped on an unexpected error', { shardId, error: String(error) });
      });
      this.workers.set(shardId, { shardId, done });
    }
  }

  private async iterator(shardId: string, type: ShardIteratorType, sequenceNumber?: string): Promise<string> {
    const { ShardIterator } = await this.options.client.send(
      new GetShardIteratorCommand({
        StreamArn: this.options.streamArn,
        ShardId: shardId,
        ShardIteratorType: type,
        ...(sequenceNumber ? { SequenceNumber: sequenceNumber } : {}),
      }),
    );
    if (!ShardIterator) throw new Error(`No shard iterator for ${shardId}`);
    return ShardIterator;
  }

  private async runShard(shardId: string, startingAtLatest: boolean): Promise<void> {
    const o = this.options;
    let lastCommitted = this.checkpointed[shardId]?.sequenceNumber;
    let lastRead = lastCommitted;
    let iterator: string | undefined;
    let ended = false;
    const buffer: BufferedRecord[] = [];
    let failures = 0;
    let splits: number[] = [];
    const readErrors = new ShardReadErrors(this.logger, shardId);

    const commit = async (count: number): Promise<void> => {
      const last = buffer.splice(0, count).at(-1);
      if (!last || this.crashed) return;
      await this.checkpoints.save(o.streamArn, shardId, { sequenceNumber: last.sequenceNumber });
      lastCommitted = last.sequenceNumber;
    };
    const commitThrough = (record: BufferedRecord | undefined): Promise<void> =>
      record ? commit(buffer.indexOf(record) + 1) : Promise.resolve();

    while (this.running) {
      try {
        if (!ended && iterator === undefined) {
          iterator = lastRead
            ? await this.iterator(shardId, 'AFTER_SEQUENCE_NUMBER', lastRead)
            : await this.iterator(shardId, startingAtLatest ? 'LATEST' : 'TRIM_HORIZON');
        }
        const matching = buffer.filter((r) => r.matches).length;
        if (
          iterator !== undefined &&
          matching < o.batchSize &&
          buffer.length < o.batchSize + GET_RECORDS_LIMIT
        ) {
          const read = await this.read(iterator, shardId, lastRead);
          readErrors.read();
          iterator = read.nextIterator;
          ended = iterator === undefined;
          for (const record of read.records) {
            buffer.push(record);
            lastRead = record.sequenceNumber;
            if (!record.matches) this.stats.recordsFilteredOut++;
          }
        }

        const firstMatch = buffer.findIndex((r) => r.matches);
        if (firstMatch !== 0) {
          // Filtered-out records are checkpointed without an invocation.
          const dropped = firstMatch < 0 ? buffer.length : firstMatch;
          await commit(dropped);
          if (firstMatch > 0) continue;
          if (ended) {
            await this.finishShard(shardId, lastCommitted);
            return;
          }
          await this.sleep(o.pollIntervalMs);
          continue;
        }

        const limit = splits[0] ?? o.batchSize;
        const batch = this.takeBatch(buffer, limit);
        const waited = Date.now() - (batch.records[0]?.readAt ?? Date.now());
        const windowOpen =
          o.maximumBatchingWindowMs > 0 &&
          batch.records.length < limit &&
          !batch.payloadFull &&
          !ended &&
          waited < o.maximumBatchingWindowMs;
        if (windowOpen) {
          await this.sleep(Math.min(o.pollIntervalMs, o.maximumBatchingWindowMs - waited));
          continue;
        }

        const expired = this.expiredPrefix(batch.records);
        if (expired > 0) {
          const discarded = batch.records.slice(0, expired);
          await this.discard(shardId, discarded, 'RecordAgeExceeded', failures, false);
          await commitThrough(discarded.at(-1));
          failures = 0;
          splits = [];
          continue;
        }

        const outcome = await this.invoke(batch.records);
        if (outcome.kind === 'success') {
          this.stats.recordsDelivered += batch.records.length;
          await commitThrough(batch.records.at(-1));
          failures = 0;
          splits = splits.slice(1);
          continue;
        }

        if (outcome.kind === 'partial') {
          this.stats.partialFailures++;
          this.stats.recordsDelivered += outcome.failedIndex;
          // The failed record becomes the head: this failure is its first unless it already was.
          failures = outcome.failedIndex === 0 ? failures + 1 : 1;
          await commitThrough(batch.records[outcome.failedIndex - 1]);
          splits = [];
          const remaining = batch.records.slice(outcome.failedIndex);
          if (o.maximumRetryAttempts >= 0 && failures > o.maximumRetryAttempts) {
            await this.discard(shardId, remaining, 'RetryAttemptsExhausted', failures, false);
            await commitThrough(remaining.at(-1));
            failures = 0;
            continue;
          }
          await this.sleep(this.backoff(failures));
          continue;
        }

        this.stats.failedInvocations++;
        this.logger.warn('Stream batch failed', {
          shardId,
          size: batch.records.length,
          reason: outcome.reason,
        });
        if (o.bisectBatchOnFunctionError && batch.records.length > 1) {
          const half = Math.ceil(batch.records.length / 2);
          splits = [half, batch.records.length - half, ...splits.slice(1)];
          this.stats.bisections++;
          continue;
        }
        failures++;
        if (o.maximumRetryAttempts >= 0 && failures > o.maximumRetryAttempts) {
          await this.discard(shardId, batch.records, 'RetryAttemptsExhausted', failures, true);
          await commitThrough(batch.records.at(-1));
          failures = 0;
          splits = splits.slice(1);
          continue;
        }
        await this.sleep(this.backoff(failures));
      } catch (error) {
        if (error instanceof ExpiredIteratorException) {
          iterator = undefined;
          continue;
        }
        readErrors.failed(String(error));
        await this.sleep(this.backoff(1));
      }
    }
  }

  private async read(
    iterator: string,
    shardId: string,
    lastRead: string | undefined,
  ): Promise<{ records: BufferedRecord[]; nextIterator: string | undefined }> {
    try {
      this.stats.polls++;
      const response = await this.options.client.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: GET_RECORDS_LIMIT }),
      );
      const now = Date.now();
      const records = (response.Records ?? []).map((raw): BufferedRecord => {
        const lambdaRecord = toLambdaRecord(raw, this.options.streamArn);
        const created = raw.dynamodb?.ApproximateCreationDateTime?.getTime() ?? now;
        return {
          lambdaRecord,
          sequenceNumber: raw.dynamodb?.SequenceNumber ?? '',
          matches: this.matches(lambdaRecord),
          payloadBytes: Buffer.byteLength(JSON.stringify(lambdaRecord)),
          readAt: now,
          arrival: new Date(created),
        };
      });
      return { records, nextIterator: response.NextShardIterator };
    } catch (error) {
      if (error instanceof TrimmedDataAccessException) {
        // Records past the stream's retention are gone for good: say so loudly, then carry on. But
        // before anything was read from the shard the iterator came from TRIM_HORIZON or LATEST,
        // which skip nothing still kept: DynamoDB Local answers so on a new stream, and a fresh
        // TRIM_HORIZON iterator is all it needs.
        if (lastRead !== undefined)
          this.logger.error('Stream records were trimmed before they were processed', { shardId, lastRead });
        return { records: [], nextIterator: await this.iterator(shardId, 'TRIM_HORIZON') };
      }
      throw error;
    }
  }

  /** Up to `limit` matching records (and the filtered-out ones between them), within 6 MB. */
  private takeBatch(
    buffer: readonly BufferedRecord[],
    limit: number,
  ): { records: BufferedRecord[]; consumed: number; payloadFull: boolean } {
    const records: BufferedRecord[] = [];
    let consumed = 0;
    let bytes = 0;
    let payloadFull = false;
    for (const record of buffer) {
      if (records.length >= limit) break;
      if (record.matches) {
        if (records.length > 0 && bytes + record.payloadBytes > MAX_PAYLOAD_BYTES) {
          payloadFull = true;
          break;
        }
        bytes += record.payloadBytes;
        records.push(record);
      }
      consumed++;
    }
    // Filtered-out records after the last delivered one stay for the next batch.
    while (consumed > 0 && buffer[consumed - 1]?.matches === false) consumed--;
    return { records, consumed, payloadFull };
  }

  private expiredPrefix(records: readonly BufferedRecord[]): number {
    const maxAge = this.options.maximumRecordAgeSeconds;
    if (maxAge < 0) return 0;
    const now = Date.now();
    let count = 0;
    while (count < records.length && now - (records[count] as BufferedRecord).readAt > maxAge * 1000) count++;
    return count;
  }

  private async invoke(records: readonly BufferedRecord[]): Promise<BatchOutcome> {
    this.stats.invocations++;
    try {
      const response = await this.options.handler({ Records: records.map((r) => r.lambdaRecord) });
      return classifyResponse(response, records, this.options.reportBatchItemFailures);
    } catch (error) {
      return { kind: 'failure', reason: error instanceof Error ? error.message : String(error) };
    }
  }

  private async discard(
    shardId: string,
    records: readonly BufferedRecord[],
    condition: StreamFailureRecord['requestContext']['condition'],
    invokeCount: number,
    functionError: boolean,
  ): Promise<void> {
    const first = records[0];
    const last = records[records.length - 1];
    if (!first || !last) return;
    const failure: StreamFailureRecord = {
      requestContext: {
        requestId: randomUUID(),
        functionArn: this.options.functionArn,
        condition,
        approximateInvokeCount: invokeCount,
      },
      ...(invokeCount > 0
        ? {
            responseContext: {
              statusCode: 200,
              executedVersion: '$LATEST',
              ...(functionError ? { functionError: 'Unhandled' } : {}),
            },
          }
        : {}),
      version: '1.0',
      timestamp: new Date().toISOString(),
      DDBStreamBatchInfo: {
        shardId,
        startSequenceNumber: first.sequenceNumber,
        endSequenceNumber: last.sequenceNumber,
        approximateArrivalOfFirstRecord: first.arrival.toISOString(),
        approximateArrivalOfLastRecord: last.arrival.toISOString(),
        batchSize: records.length,
        streamArn: this.options.streamArn,
      },
      payload: JSON.stringify({ Records: records.map((r) => r.lambdaRecord) }),
    };
    this.logger.error('Stream records discarded', { condition, shardId, count: records.length });
    for (let attempt = 1; ; attempt++) {
      try {
        if (this.onFailure)
          await this.onFailure(
            failure,
            records.map((r) => r.lambdaRecord),
          );
        this.stats.recordsDiscarded += records.length;
        return;
      } catch (error) {
        // Never advance past records the destination did not take: they would be lost.
        this.logger.error('On-failure destination failed; retrying', { shardId, error: String(error) });
        if (!this.running) throw error;
        await this.sleep(this.backoff(attempt));
      }
    }
  }

  private async finishShard(shardId: string, last: string | undefined): Promise<void> {
    if (this.crashed) return;
    await this.checkpoints.save(this.options.streamArn, shardId, {
      ...(last ? { sequenceNumber: last } : {}),
      completed: true,
    });
    this.completed.add(shardId);
    this.workers.delete(shardId);
    // Children of this shard may start now.
    for (const wake of this.wakers) wake();
  }

  private backoff(attempt: number): number {
    return Math.min(this.options.retryDelayMs * 2 ** Math.max(0, attempt - 1), this.options.maxRetryDelayMs);
  }

  /** A sleep that `stop()` (or a finished shard) cuts short. */
  private sleep(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }
}
