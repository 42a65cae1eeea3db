import { fileURLToPath } from 'node:url';
import { Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import { CfnGlobalTable, CfnTable, type ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import {
  type EventSourceMapping,
  FilterCriteria,
  type IEventSourceDlq,
  StartingPosition,
} from 'aws-cdk-lib/aws-lambda';
import { type IQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type OutboxLayout, relayFilterPattern } from '../../lambdas/outbox/layout';
import { DEFAULT_PUT_EVENTS_LIMITS } from '../../lambdas/outbox/limits';
import { OutboxServiceName } from '../../lambdas/outbox/service-names';
import { relaySettings } from '../../lambdas/outbox/settings';
import { contractEnv } from './contract';
import { type FunctionDefaults, PowertoolsFunction } from './function';
import { grantOnTable, grantSendOnly } from './grants';

const RELAY_ENTRY = fileURLToPath(new URL('../../lambdas/outbox/relay-handler.ts', import.meta.url));

/** How the relay's event source mapping reads the stream. */
export interface RelayMappingProps {
  /**
   * Records per invocation, 1 to 10,000. Ten PutEvents calls carry 100 events.
   * @default 100
   */
  readonly batchSize?: number;
  /**
   * How long Lambda gathers records before invoking, up to 5 minutes. Zero is the lowest lag;
   * a few hundred milliseconds packs fuller PutEvents calls under light load.
   * @default Duration.seconds(0)
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * Concurrent batches per shard, 1 to 10. Order is still kept per partition key.
   * @default 1
   */
  readonly parallelizationFactor?: number;
  /**
   * Retries of a failed batch before Lambda gives up on it and sends its description to the
   * failure queue, 0 to 10,000. Must be bounded: one bad batch must not hold the shard forever.
   * @default 10
   */
  readonly retryAttempts?: number;
  /**
   * Oldest record Lambda still sends to the relay, 1 minute to 7 days. The stream keeps records
   * 24 hours: 6 hours leaves 18 in which a batch given up on can still be read back from the
   * stream position the failure queue names.
   * @default Duration.hours(6)
   */
  readonly maxRecordAge?: Duration;
  /** Start with the mapping enabled. @default true */
  readonly enabled?: boolean;
}

export interface OutboxRelayProps extends RelayMappingProps {
  /** The table holding the outbox items. It must have a stream with new images. */
  readonly table: ITable;
  /** How outbox items are keyed and recognised in `table`. */
  readonly layout: OutboxLayout;
  /** The bus the events are published to. */
  readonly eventBus: IEventBus;
  /** `source` of every published event (1 to 256 characters, not `aws.`-prefixed). */
  readonly source: string;
  /**
   * Mark each outbox item published after EventBridge accepted it (then arm its TTL). The
   * reconciler relies on it; without it, the write path arms the TTL itself.
   * @default true
   */
  readonly deliveryTracking?: boolean;
  /**
   * Days an outbox item is kept after it was published (tracking) or written (no tracking).
   * @default 7
   */
  readonly retentionDays?: number;
  /**
   * Largest PutEvents entry and call (sum of its entries), in bytes. An entry over it is parked
   * on the poison queue. Lower it (262144, the old limit) for a bus that does not accept 1 MB
   * events; see lambdas/outbox/limits.ts for the sources.
   * @default 1048576 (1 MiB)
   */
  readonly putEventsMaxBytes?: number;
  /**
   * Customer managed key for the poison and failure queues.
   * @default SQS managed encryption (SSE-SQS)
   */
  readonly encryptionKey?: IKey;
  /**
   * How long the poison and failure queues keep messages.
   * @default Duration.days(14), the SQS maximum
   */
  readonly queueRetentionPeriod?: Duration;
  /**
   * Function timeout. Covers PutEvents with in-process retries, the poison queue and the
   * delivery-tracking updates of a full batch.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /** Powertools service name. @default 'outbox-relay' */
  readonly serviceName?: string;
  /** Log level, retention and metrics namespace of the function. @default PowertoolsFunction defaults */
  readonly functionDefaults?: FunctionDefaults;
}

const MAX_BATCH_SIZE = 10_000;

const requireRange = (name: string, value: number, min: number, max: number): void => {
  if (Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`OutboxRelay: ${name} must be an integer from ${min} to ${max}, got ${value}`);
};

/**
 * The stream view type of `table`'s stream: `undefined` when it has none, `'unknown'` when it
 * cannot be told (an imported table with a stream ARN). TableV2 returns a stream ARN token even
 * without a stream, so the L1 resource is the reliable place to look.
 */
export const streamViewTypeOf = (table: ITable): string | undefined => {
  if (!table.tableStreamArn) return undefined;
  const cfn = table.node.defaultChild;
  if (cfn instanceof CfnGlobalTable || cfn instanceof CfnTable) {
    // TableV2 renders it lazily (it depends on replicas): resolve before looking.
    const spec = Stack.of(cfn).resolve(cfn.streamSpecification) as { streamViewType?: unknown } | undefined;
    if (spec === undefined) return undefined;
    return typeof spec.streamViewType === 'string' ? spec.streamViewType : 'unknown';
  }
  return 'unknown';
};

/** Lambda's on-failure destination for the mapping, with the send-only grant. */
const sendOnlyDlq = (queue: IQueue): IEventSourceDlq => ({
  bind: (_mapping, fn) => {
    grantSendOnly(queue, fn);
    return { destination: queue.queueArn };
  },
});

/**
 * The outbox relay for a table with a stream: an event source mapping that passes only INSERTs
 * of outbox items (the layout's filter, the same object the offline poller applies) to a function
 * that publishes them to an EventBridge bus, starting from the oldest record (TRIM_HORIZON, so
 * nothing written before the mapping existed is skipped), with partial batch responses, bisect on
 * error, bounded retries and record age.
 *
 * Two queues, because they hold different things:
 * - `poisonQueue`: outbox items that can never be published as they are, written by the relay
 *   itself with their full content and reason, ready to be republished after a fix.
 * - `failureQueue`: Lambda's on-failure destination for batches it gave up on after the retries
 *   or the record age; each message describes a range of stream records (shard, sequence
 *   numbers), not the records themselves. With delivery tracking, the reconciler republishes
 *   those events anyway; without it, replay them from the stream within its 24-hour retention.
 *
 * IAM: events:PutEvents on the bus, sqs:SendMessage on each queue (plus the key when customer
 * managed), stream read, and dynamodb:UpdateItem on the table only with delivery tracking.
 */
export class OutboxRelay extends Construct {
  public readonly function: PowertoolsFunction;
  /** The Powertools service name: the `service` dimension of the relay's metrics. */
  public readonly serviceName: string;
  public readonly eventSourceMapping: EventSourceMapping;
  /** Outbox items that can never be published as they are (oversize, malformed), with their content. */
  public readonly poisonQueue: Queue;
  /** Descriptions of stream batches Lambda gave up on (on-failure destination). */
  public readonly failureQueue: Queue;

  constructor(scope: Construct, id: string, props: OutboxRelayProps) {
    super(scope, id);
    const batchSize = props.batchSize ?? 100;
    const maxBatchingWindow = props.maxBatchingWindow ?? Duration.seconds(0);
    const parallelizationFactor = props.parallelizationFactor ?? 1;
    const retryAttempts = props.retryAttempts ?? 10;
    const maxRecordAge = props.maxRecordAge ?? Duration.hours(6);
    const deliveryTracking = props.deliveryTracking ?? true;

    const streamArn = props.table.tableStreamArn;
    const streamViewType = streamViewTypeOf(props.table);
    if (streamArn === undefined || streamViewType === undefined)
      throw new Error(
        'OutboxRelay: the table has no stream; enable one with NEW_IMAGE or NEW_AND_OLD_IMAGES',
      );
    if (streamViewType === 'KEYS_ONLY' || streamViewType === 'OLD_IMAGE')
      throw new Error(`OutboxRelay: the relay needs new images, but the stream is ${streamViewType}`);
    requireRange('batchSize', batchSize, 1, MAX_BATCH_SIZE);
    requireRange('parallelizationFactor', parallelizationFactor, 1, 10);
    requireRange('retryAttempts', retryAttempts, 0, 10_000);
    if (maxBatchingWindow.toSeconds() > 300)
      throw new Error('OutboxRelay: maxBatchingWindow must be at most 5 minutes');
    const recordAge = maxRecordAge.toSeconds();
    if (recordAge < 60 || recordAge > 7 * 24 * 3600)
      throw new Error('OutboxRelay: maxRecordAge must be from 1 minute to 7 days (unbounded is not allowed)');

    const queueProps = {
      retentionPeriod: props.queueRetentionPeriod ?? Duration.days(14),
      enforceSSL: true,
      ...(props.encryptionKey
        ? { encryption: QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey }
        : { encryption: QueueEncryption.SQS_MANAGED }),
    };
    this.poisonQueue = new Queue(this, 'PoisonQueue', queueProps);
    this.failureQueue = new Queue(this, 'FailureQueue', queueProps);
    for (const queue of [this.poisonQueue, this.failureQueue]) {
      Validations.of(queue).acknowledge({
        id: 'AwsSolutions::AwsSolutions-SQS3',
        reason:
          'This queue is itself a dead-letter queue: the last stop for records the relay cannot publish. ' +
          'Nothing consumes it automatically, so a DLQ behind it would never receive anything; its depth ' +
          'is alarmed on instead.',
      });
    }

    // The contract validates every setting with the bounds the function reads it with.
    const environment = contractEnv('OutboxRelay', relaySettings, {
      eventBusName: props.eventBus.eventBusName,
      source: props.source,
      poisonQueueUrl: this.poisonQueue.queueUrl,
      putEventsMaxBytes: props.putEventsMaxBytes ?? DEFAULT_PUT_EVENTS_LIMITS.maxCallBytes,
      tableName: props.table.tableName,
      layout: props.layout,
      deliveryTracking,
      retentionDays: props.retentionDays ?? 7,
    });

    this.serviceName = props.serviceName ?? OutboxServiceName.Relay;
    this.function = new PowertoolsFunction(this, 'Function', {
      ...props.functionDefaults,
      entry: RELAY_ENTRY,
      serviceName: this.serviceName,
      timeout: props.timeout ?? Duration.seconds(30),
      memorySize: props.memorySize ?? 512,
      environment,
    });

    props.eventBus.grantPutEventsTo(this.function);
    grantSendOnly(this.poisonQueue, this.function);
    if (deliveryTracking) grantOnTable(props.table, this.function, ['dynamodb:UpdateItem']);

    this.eventSourceMapping = this.function.addEventSourceMapping('StreamMapping', {
      eventSourceArn: streamArn,
      startingPosition: StartingPosition.TRIM_HORIZON,
      filters: [FilterCriteria.filter(relayFilterPattern(props.layout))],
      batchSize,
      maxBatchingWindow,
      parallelizationFactor,
      retryAttempts,
      maxRecordAge,
      bisectBatchOnError: true,
      reportBatchItemFailures: true,
      onFailure: sendOnlyDlq(this.failureQueue),
      enabled: props.enabled ?? true,
    });
    props.table.grantStreamRead(this.function);
  }
}
