import { fileURLToPath } from 'node:url';
import { Duration, type RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import { CfnGlobalTable, CfnTable, type ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import {
  type EventSourceMapping,
  FilterCriteria,
  type IEventSourceDlq,
  StartingPosition,
} from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { type IQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULT_PUT_EVENTS_LIMITS, MIB, PUTEVENTS_MAX_BYTES_ENV } from '../../lambdas/outbox/limits';
import { relayFilterPattern } from '../../lambdas/shared/relay-filter';
import { grantOnTable, grantSendOnly } from './grants';
import { OutboxFunction } from './outbox-function';

const RELAY_ENTRY = fileURLToPath(new URL('../../lambdas/outbox/relay-handler.ts', import.meta.url));

export interface OutboxRelayProps {
  /** The table whose stream carries the outbox items. It must have a stream with new images. */
  readonly table: ITable;
  /** The bus the events are published to. */
  readonly eventBus: IEventBus;
  /**
   * `source` of every published event (1 to 256 characters, not `aws.`-prefixed).
   * @default 'orders'
   */
  readonly source?: string;
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
   * Concurrent batches per shard, 1 to 10. Order is still kept per partition key, so per order.
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
  /**
   * Mark each outbox item published after EventBridge accepted it (then arm its TTL). The
   * reconciler relies on it; without it, the write path must arm the TTL itself.
   * @default true
   */
  readonly deliveryTracking?: boolean;
  /**
   * Days a published outbox item is kept before TTL deletes it. Only with delivery tracking:
   * without it the relay writes nothing and the write path sets the TTL.
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
  /** Powertools log level. @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** What happens to the function's log group when it leaves the stack. @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** CloudWatch namespace of the relay's metrics (EMF). @default 'DynamoDbOutbox' */
  readonly metricsNamespace?: string;
  /** Powertools service name. @default 'outbox-relay' */
  readonly serviceName?: string;
  /** Start with the mapping enabled. @default true */
  readonly enabled?: boolean;
}

const MAX_BATCH_SIZE = 10_000;
const MAX_PUT_EVENTS_BYTES = MIB;

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
const streamViewTypeOf = (table: ITable): string | undefined => {
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
 * The transactional outbox relay for any DynamoDB table with a stream: an event source mapping
 * that passes only INSERTs of outbox items (same filter object as the offline poller) to a
 * function that publishes them to an EventBridge bus, starting from the oldest record
 * (TRIM_HORIZON, so nothing written before the mapping existed is skipped), with partial batch
 * responses, bisect on error, bounded retries and record age.
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
  public readonly handler: OutboxFunction;
  /** The Powertools service name: the `service` dimension of the relay's metrics. */
  public readonly serviceName: string;
  public readonly eventSourceMapping: EventSourceMapping;
  /** Outbox items that can never be published as they are (oversize, malformed), with their content. */
  public readonly poisonQueue: Queue;
  /** Descriptions of stream batches Lambda gave up on (on-failure destination). */
  public readonly failureQueue: Queue;

  constructor(scope: Construct, id: string, props: OutboxRelayProps) {
    super(scope, id);
    const source = props.source ?? 'orders';
    const batchSize = props.batchSize ?? 100;
    const maxBatchingWindow = props.maxBatchingWindow ?? Duration.seconds(0);
    const parallelizationFactor = props.parallelizationFactor ?? 1;
    const retryAttempts = props.retryAttempts ?? 10;
    const maxRecordAge = props.maxRecordAge ?? Duration.hours(6);
    const deliveryTracking = props.deliveryTracking ?? true;
    const putEventsMaxBytes = props.putEventsMaxBytes ?? DEFAULT_PUT_EVENTS_LIMITS.maxCallBytes;

    const streamArn = props.table.tableStreamArn;
    const streamViewType = streamViewTypeOf(props.table);
    if (streamArn === undefined || streamViewType === undefined)
      throw new Error(
        'OutboxRelay: the table has no stream; enable one with NEW_IMAGE or NEW_AND_OLD_IMAGES',
      );
    if (streamViewType === 'KEYS_ONLY' || streamViewType === 'OLD_IMAGE')
      throw new Error(`OutboxRelay: the relay needs new images, but the stream is ${streamViewType}`);
    if (source.length === 0 || [...source].length > DEFAULT_PUT_EVENTS_LIMITS.maxSourceLength)
      throw new Error('OutboxRelay: source must be 1 to 256 characters');
    if (source.startsWith('aws.'))
      throw new Error('OutboxRelay: source must not start with "aws." (reserved)');
    requireRange('batchSize', batchSize, 1, MAX_BATCH_SIZE);
    requireRange('parallelizationFactor', parallelizationFactor, 1, 10);
    requireRange('retryAttempts', retryAttempts, 0, 10_000);
    requireRange('putEventsMaxBytes', putEventsMaxBytes, 1, MAX_PUT_EVENTS_BYTES);
    if (maxBatchingWindow.toSeconds() > 300)
      throw new Error('OutboxRelay: maxBatchingWindow must be at most 5 minutes');
    const recordAge = maxRecordAge.toSeconds();
    if (recordAge < 60 || recordAge > 7 * 24 * 3600)
      throw new Error('OutboxRelay: maxRecordAge must be from 1 minute to 7 days (unbounded is not allowed)');
    if (!deliveryTracking && props.retentionDays !== undefined)
      throw new Error(
        'OutboxRelay: retentionDays applies only with deliveryTracking; without it the write path sets the TTL',
      );
    const retentionDays = props.retentionDays ?? 7;
    requireRange('retentionDays', retentionDays, 1, 3650);

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

    this.serviceName = props.serviceName ?? 'outbox-relay';
    this.handler = new OutboxFunction(this, 'Function', {
      entry: RELAY_ENTRY,
      serviceName: this.serviceName,
      timeout: props.timeout ?? Duration.seconds(30),
      memorySize: props.memorySize ?? 512,
      ...(props.logLevel ? { logLevel: props.logLevel } : {}),
      ...(props.metricsNamespace ? { metricsNamespace: props.metricsNamespace } : {}),
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      ...(props.logRemovalPolicy ? { logRemovalPolicy: props.logRemovalPolicy } : {}),
      environment: {
        EVENT_BUS_NAME: props.eventBus.eventBusName,
        EVENT_SOURCE: source,
        POISON_QUEUE_URL: this.poisonQueue.queueUrl,
        OUTBOX_DELIVERY_TRACKING: String(deliveryTracking),
        [PUTEVENTS_MAX_BYTES_ENV]: String(putEventsMaxBytes),
        ...(deliveryTracking ? { OUTBOX_RETENTION_DAYS: String(retentionDays) } : {}),
      },
    });

    props.eventBus.grantPutEventsTo(this.handler);
    grantSendOnly(this.poisonQueue, this.handler);
    if (deliveryTracking) {
      grantOnTable(props.table, this.handler, ['dynamodb:UpdateItem']);
      this.handler.addEnvironment('TABLE_NAME', props.table.tableName);
    }

    this.eventSourceMapping = this.handler.addEventSourceMapping('StreamMapping', {
      eventSourceArn: streamArn,
      startingPosition: StartingPosition.TRIM_HORIZON,
      filters: [FilterCriteria.filter(relayFilterPattern)],
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
    props.table.grantStreamRead(this.handler);
  }
}
