import { fileURLToPath } from 'node:url';
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { type IEventBus, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ordersTable } from '../../lambdas/shared/table-definition';
import { grantOnTable, grantSendOnly } from './grants';
import { OutboxFunction } from './outbox-function';

const RECONCILER_ENTRY = fileURLToPath(new URL('../../lambdas/reconciler/handler.ts', import.meta.url));

export interface OutboxReconcilerProps {
  /** The outbox table, with the sparse pending index of `ordersTable.pendingIndex`. */
  readonly table: ITable;
  /** The bus the relay publishes to. */
  readonly eventBus: IEventBus;
  /** The relay's poison queue: where items that can never be published are parked. */
  readonly poisonQueue: IQueue;
  /**
   * `source` of republished events: must be the relay's.
   * @default 'orders'
   */
  readonly source?: string;
  /**
   * Republish items still pending this long after they occurred. Longer than the relay's normal
   * lag, or the reconciler races the relay and causes duplicates (harmless, but wasted).
   * @default Duration.minutes(15)
   */
  readonly threshold?: Duration;
  /**
   * How often the reconciler runs.
   * @default Duration.minutes(5)
   */
  readonly interval?: Duration;
  /**
   * Items handled per run at most; the next run picks up the rest.
   * @default 5000
   */
  readonly maxItemsPerRun?: number;
  /**
   * Days a republished item is kept before TTL deletes it: the relay's retention.
   * @default 7
   */
  readonly retentionDays?: number;
  /**
   * Largest PutEvents entry and call in bytes: the relay's setting.
   * @default 1048576 (1 MiB)
   */
  readonly putEventsMaxBytes?: number;
  /**
   * Function timeout; a run stops starting pages 20 s before it.
   * @default Duration.minutes(2)
   */
  readonly timeout?: Duration;
  /** Powertools log level. @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** What happens to the function's log group when it leaves the stack. @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** Powertools service name. @default 'outbox-reconciler' */
  readonly serviceName?: string;
  /** CloudWatch namespace of the ReconcilerRepublished metric. @default OutboxFunction defaults */
  readonly metricsNamespace?: string;
  /** Start with the schedule enabled. @default true */
  readonly enabled?: boolean;
}

/**
 * Delivery tracking's safety net: on a schedule, find outbox items still unpublished after
 * `threshold` (sparse pending index, every shard) and republish them through the relay's
 * publisher, then mark them published and arm their TTL. An event survives a relay outage longer
 * than the stream's 24-hour retention, or a batch the relay gave up on.
 *
 * IAM: dynamodb:Query on the pending index only, dynamodb:UpdateItem on the table (mark
 * published, park), events:PutEvents on the bus, sqs:SendMessage on the poison queue.
 */
export class OutboxReconciler extends Construct {
  public readonly handler: OutboxFunction;
  public readonly schedule: Rule;
  /** Items pending longer than this are republished. */
  public readonly threshold: Duration;
  public readonly interval: Duration;
  /** Powertools service name: the `service` dimension of ReconcilerRepublished. */
  public readonly serviceName: string;

  constructor(scope: Construct, id: string, props: OutboxReconcilerProps) {
    super(scope, id);
    this.threshold = props.threshold ?? Duration.minutes(15);
    this.interval = props.interval ?? Duration.minutes(5);
    const timeout = props.timeout ?? Duration.minutes(2);
    const maxItemsPerRun = props.maxItemsPerRun ?? 5000;
    const retentionDays = props.retentionDays ?? 7;
    if (this.threshold.toSeconds() < 60)
      throw new Error('OutboxReconciler: threshold must be at least 1 minute');
    if (this.interval.toSeconds() < 60)
      throw new Error('OutboxReconciler: interval must be at least 1 minute');
    if (timeout.toSeconds() <= 30 || timeout.toSeconds() > 900)
      throw new Error('OutboxReconciler: timeout must be over 30 seconds and at most 15 minutes');
    if (timeout.toSeconds() >= this.interval.toSeconds())
      throw new Error('OutboxReconciler: timeout must be shorter than interval, so runs do not overlap');
    if (!Number.isInteger(maxItemsPerRun) || maxItemsPerRun < 1)
      throw new Error('OutboxReconciler: maxItemsPerRun must be a positive integer');
    if (!Number.isInteger(retentionDays) || retentionDays < 1)
      throw new Error('OutboxReconciler: retentionDays must be a positive integer');

    this.serviceName = props.serviceName ?? 'outbox-reconciler';
    this.handler = new OutboxFunction(this, 'Function', {
      entry: RECONCILER_ENTRY,
      serviceName: this.serviceName,
      ...(props.metricsNamespace ? { metricsNamespace: props.metricsNamespace } : {}),
      timeout,
      ...(props.logLevel ? { logLevel: props.logLevel } : {}),
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      ...(props.logRemovalPolicy ? { logRemovalPolicy: props.logRemovalPolicy } : {}),
      // A missed run is made up by the next one; retrying a late one would only overlap it.
      retryAttempts: 0,
      environment: {
        TABLE_NAME: props.table.tableName,
        EVENT_BUS_NAME: props.eventBus.eventBusName,
        EVENT_SOURCE: props.source ?? 'orders',
        POISON_QUEUE_URL: props.poisonQueue.queueUrl,
        OUTBOX_RETENTION_DAYS: String(retentionDays),
        RECONCILER_THRESHOLD_SECONDS: String(this.threshold.toSeconds()),
        RECONCILER_MAX_ITEMS_PER_RUN: String(maxItemsPerRun),
        ...(props.putEventsMaxBytes === undefined
          ? {}
          : { PUTEVENTS_MAX_BYTES: String(props.putEventsMaxBytes) }),
      },
    });

    this.handler.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${props.table.tableArn}/index/${ordersTable.pendingIndex.indexName}`],
      }),
    );
    grantOnTable(props.table, this.handler, ['dynamodb:UpdateItem']);
    props.eventBus.grantPutEventsTo(this.handler);
    grantSendOnly(props.poisonQueue, this.handler);

    this.schedule = new Rule(this, 'Schedule', {
      description: 'Republish outbox events still unpublished after the threshold',
      schedule: Schedule.rate(this.interval),
      enabled: props.enabled ?? true,
    });
    this.schedule.addTarget(new LambdaFunction(this.handler, { retryAttempts: 0 }));
  }
}
