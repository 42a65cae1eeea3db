import { type CfnElement, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import { Metric, Stats } from 'aws-cdk-lib/aws-cloudwatch';
import { CfnGlobalTable, CfnTable, type ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import {
  type EventSourceMapping,
  FilterCriteria,
  type IEventSourceDlq,
  MetricType,
  StartingPosition,
} from 'aws-cdk-lib/aws-lambda';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type OutboxLayout, relayFilterPattern } from '../runtime/layout.js';
import { DEFAULT_PUT_EVENTS_LIMITS } from '../runtime/limits.js';
import { OutboxServiceName } from '../runtime/service-names.js';
import { relaySettings } from '../runtime/settings.js';
import { contractEnv } from './contract.js';
import { EngineFunction, type FunctionDefaults } from './function.js';
import { grantOnTable, grantSendOnly } from './grants.js';

/** DynamoDB Streams keeps a record 24 hours; past that it is trimmed, not sent to the destination. */
const STREAM_RETENTION = Duration.hours(24);

/**
 * The mapping's S3 on-failure destination with exactly what Lambda needs to write to it
 * (services-dynamodb-errors: s3:PutObject and s3:ListBucket; GenerateDataKey on a customer managed
 * key), not S3OnFailureDestination's read-write grant: the relay never reads or deletes failures.
 * In a policy of its own, so that its object wildcard is acknowledged for nothing else, and
 * created before the mapping, which Lambda checks the permissions of.
 */
const putOnlyS3Destination = (scope: Construct, bucket: Bucket): IEventSourceDlq => ({
  bind: (mapping, fn) => {
    if (!fn.role) throw new Error('OutboxRelay: the relay function has no role');
    const policy = new Policy(scope, 'FailureBucketPolicy', {
      roles: [fn.role],
      statements: [
        new PolicyStatement({ actions: ['s3:PutObject'], resources: [bucket.arnForObjects('*')] }),
        new PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
        ...(bucket.encryptionKey
          ? [
              new PolicyStatement({
                actions: ['kms:GenerateDataKey'],
                resources: [bucket.encryptionKey.keyArn],
              }),
            ]
          : []),
      ],
    });
    const bucketId = Stack.of(bucket).getLogicalId(bucket.node.defaultChild as CfnElement);
    Validations.of(policy).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`,
      reason:
        "Lambda names each failure object itself (aws/lambda/<mapping>/<shard>/<date>/…), so PutObject is granted on the relay's own failure bucket's objects, in a policy that holds nothing else.",
    });
    mapping.node.addDependency(policy);
    return { destination: bucket.bucketArn };
  },
});

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
   * Retries of a failed batch before Lambda gives up on it, -1 (until `maxRecordAge`) or 0 to
   * 10,000. -1 by default, because what fails a batch here is only ever retryable: the relay
   * parks poison on its queue itself and never fails a batch for it, so the only records Lambda
   * retries are ones EventBridge throttled or failed (or a crash or timeout, which bisect splits).
   * A count would be a clock that runs at Lambda's retry pace: a partial batch response counts as
   * a failed attempt, and 10 attempts are used up in about a minute of EventBridge outage. The
   * record age is the bound that means what we want: how long an outage the relay waits out.
   * ("When MaximumRetryAttempts is infinite, Lambda retries failed records until the record
   * expires", services-ddb-params; "Splitting batches doesn't consume the retry quota",
   * services-dynamodb-errors.)
   * @default -1
   */
  readonly retryAttempts?: number;
  /**
   * Oldest record Lambda still sends to the relay, 1 minute to under 24 hours: the longest
   * outage of EventBridge (or of the poison queue) the relay waits out before a batch goes to
   * `failureBucket`. Records older than the stream's 24 hours are trimmed, and then they reach no
   * destination at all ("DroppedEventCount … doesn't include the number of records that expire
   * due to exceeding your event source's retention"), so the age must stay below it. 6 hours
   * rides out every regional EventBridge incident of hours while the iterator-age alarm has long
   * called someone, and leaves 18 hours before the stream trims anything.
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
   * Record what EventBridge accepted: one receipt per relay invocation (`RECEIPT#<minute>` items
   * in the outbox's table), and a time-index entry on each same-table item. The reconciler relies
   * on it. The writer arms every item's TTL at write time, with or without it.
   * @default true
   */
  readonly deliveryTracking?: boolean;
  /**
   * Days an outbox item is kept after it is written, either layout.
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
   * Customer managed key for the poison queue and the failure bucket.
   * @default SQS managed encryption (SSE-SQS) and S3 managed encryption (SSE-S3)
   */
  readonly encryptionKey?: IKey;
  /**
   * How long the poison queue keeps messages.
   * @default Duration.days(14), the SQS maximum
   */
  readonly queueRetentionPeriod?: Duration;
  /**
   * How long failure objects (and the redriven ones under `redriven/`) stay in the failure bucket
   * before its lifecycle rule expires them: long enough to notice the alarm, fix the cause and
   * run `outbox redrive --from-failures`.
   * @default Duration.days(30)
   */
  readonly failureRetention?: Duration;
  /**
   * Bucket for the failure bucket's server access logs.
   * @default no access logs (cdk-nag AwsSolutions-S1 acknowledged: the bucket is written by Lambda
   * only, read by the redrive, and its objects are alarmed on as they arrive)
   */
  readonly accessLogsBucket?: IBucket;
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

/**
 * DynamoDB stream mappings take BatchSize 1 to 10,000, ParallelizationFactor 1 to 10 and
 * MaximumBatchingWindowInSeconds 0 to 300 (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html).
 */
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

/**
 * The outbox relay for a table with a stream: an event source mapping that passes only INSERTs
 * of outbox items (the layout's filter, the same object the offline poller applies) to a function
 * that publishes them to an EventBridge bus, starting from the oldest record (TRIM_HORIZON, so
 * nothing written before the mapping existed is skipped), with partial batch responses, bisect on
 * error, and retries until a record reaches `maxRecordAge` (see `retryAttempts` for why).
 *
 * Two places for what is not published, because they hold different failures:
 * - `poisonQueue`: outbox items that can never be published as they are, parked by the relay
 *   itself at once with their full content and reason, ready to be republished after a fix.
 * - `failureBucket`: Lambda's S3 on-failure destination for batches it gave up on (records past
 *   `maxRecordAge`: an outage longer than that). Each object holds the invocation record and
 *   the whole batch ("For Amazon S3 destinations, Lambda also sends the entire invocation record
 *   along with the metadata", services-dynamodb-errors), so `outbox redrive --from-failures`
 *   republishes from it, whether or not the stream still holds the records. An SQS destination
 *   would only describe the sequence range.
 *
 * The mapping emits its event-count metrics (MetricsConfig EventCount), so that
 * `OnFailureDestinationDeliveredEventCount` counts records written to the bucket: that is what
 * the monitoring alarms on (`failureMetric`).
 *
 * IAM: events:PutEvents on the bus, sqs:SendMessage on the poison queue (plus the key when
 * customer managed), s3:PutObject and s3:ListBucket on the failure bucket,
 * stream read, and with delivery tracking on the table (either layout): dynamodb:PutItem and
 * dynamodb:Query (its receipts) and dynamodb:UpdateItem (parked items only).
 */
export class OutboxRelay extends Construct {
  /** The relay function: the stream's consumer, deployed from the package's prebuilt asset. */
  public readonly function: EngineFunction;
  /** The Powertools service name: the `service` dimension of the relay's metrics. */
  public readonly serviceName: string;
  /** The stream mapping: filter, batching, retries, partial batch responses, S3 on-failure destination. */
  public readonly eventSourceMapping: EventSourceMapping;
  /** Outbox items that can never be published as they are (oversize, malformed), with their content. */
  public readonly poisonQueue: Queue;
  /** Stream batches Lambda gave up on, with their records (S3 on-failure destination). */
  public readonly failureBucket: Bucket;
  /** Records the mapping wrote to `failureBucket` (Sum): any is an alarm. */
  public readonly failureMetric: Metric;

  constructor(scope: Construct, id: string, props: OutboxRelayProps) {
    super(scope, id);
    const batchSize = props.batchSize ?? 100;
    const maxBatchingWindow = props.maxBatchingWindow ?? Duration.seconds(0);
    const parallelizationFactor = props.parallelizationFactor ?? 1;
    const retryAttempts = props.retryAttempts ?? -1;
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
    requireRange('retryAttempts', retryAttempts, -1, 10_000);
    if (maxBatchingWindow.toSeconds() > 300)
      throw new Error('OutboxRelay: maxBatchingWindow must be at most 5 minutes');
    const recordAge = maxRecordAge.toSeconds();
    if (recordAge < 60 || recordAge >= STREAM_RETENTION.toSeconds())
      throw new Error(
        'OutboxRelay: maxRecordAge must be from 1 minute to under 24 hours (the stream trims older records before they reach the failure bucket)',
      );

    const queueProps = {
      retentionPeriod: props.queueRetentionPeriod ?? Duration.days(14),
      enforceSSL: true,
      ...(props.encryptionKey
        ? { encryption: QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey }
        : { encryption: QueueEncryption.SQS_MANAGED }),
    };
    this.poisonQueue = new Queue(this, 'PoisonQueue', queueProps);
    Validations.of(this.poisonQueue).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter queue: the last stop for records the relay cannot publish. ' +
        'Nothing consumes it automatically, so a DLQ behind it would never receive anything; its depth ' +
        'is alarmed on instead.',
    });

    this.failureBucket = new Bucket(this, 'FailureBucket', {
      ...(props.encryptionKey
        ? { encryption: BucketEncryption.KMS, encryptionKey: props.encryptionKey, bucketKeyEnabled: true }
        : { encryption: BucketEncryption.S3_MANAGED }),
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        {
          id: 'ExpireFailureObjects',
          expiration: props.failureRetention ?? Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      // Unpublished events: kept when the stack goes, like the table they came from.
      removalPolicy: RemovalPolicy.RETAIN,
      ...(props.accessLogsBucket
        ? { serverAccessLogsBucket: props.accessLogsBucket, serverAccessLogsPrefix: 'outbox-relay-failures/' }
        : {}),
    });
    if (!props.accessLogsBucket)
      Validations.of(this.failureBucket).acknowledge({
        id: 'AwsSolutions::AwsSolutions-S1',
        reason:
          'Only the relay mapping writes this bucket and only the redrive reads it; every object arriving ' +
          'is alarmed on (OnFailureDestinationDeliveredEventCount). Pass accessLogsBucket to log access.',
      });

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
    this.function = new EngineFunction(this, 'Function', {
      ...props.functionDefaults,
      asset: 'relay',
      serviceName: this.serviceName,
      timeout: props.timeout ?? Duration.seconds(30),
      memorySize: props.memorySize ?? 512,
      environment,
    });

    props.eventBus.grantPutEventsTo(this.function);
    grantSendOnly(this.poisonQueue, this.function);
    // Receipts: PutItem writes one per invocation, Query reads a minute's receipts for a batch that
    // may be a retry (skipAccepted), UpdateItem keeps a parked item past its TTL.
    if (deliveryTracking)
      grantOnTable(props.table, this.function, ['dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem']);

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
      onFailure: putOnlyS3Destination(this, this.failureBucket),
      metricsConfig: { metrics: [MetricType.EVENT_COUNT] },
      enabled: props.enabled ?? true,
    });
    props.table.grantStreamRead(this.function);
    this.failureMetric = new Metric({
      namespace: 'AWS/Lambda',
      metricName: 'OnFailureDestinationDeliveredEventCount',
      dimensionsMap: { EventSourceMappingUUID: this.eventSourceMapping.eventSourceMappingId },
      statistic: Stats.SUM,
      period: Duration.minutes(5),
    });
  }
}
