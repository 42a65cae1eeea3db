import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { type IEventBus, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { OutboxLayout } from '../runtime/layout.js';
import { DEFAULT_PUT_EVENTS_LIMITS } from '../runtime/limits.js';
import { OutboxServiceName } from '../runtime/service-names.js';
import { reconcilerSettings } from '../runtime/settings.js';
import { contractEnv } from './contract.js';
import { EngineFunction, type FunctionDefaults } from './function.js';
import { grantOnTable, grantSendOnly } from './grants.js';

/** When and how much the reconciler republishes. */
export interface ReconcilerScheduleProps {
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
   * Function timeout, over 30 s and shorter than `interval`; a run stops starting pages 20 s before it.
   * @default Duration.minutes(2)
   */
  readonly timeout?: Duration;
  /** Start with the schedule enabled. @default true */
  readonly enabled?: boolean;
}

export interface OutboxReconcilerProps extends ReconcilerScheduleProps {
  /** The table holding the outbox items: a time-ordered table, or one with the layout's sparse time index. */
  readonly table: ITable;
  /** How outbox items are keyed and recognised in `table`. */
  readonly layout: OutboxLayout;
  /** The bus the relay publishes to. */
  readonly eventBus: IEventBus;
  /** The relay's poison queue: where items that can never be published are parked. */
  readonly poisonQueue: IQueue;
  /** `source` of republished events: the relay's. */
  readonly source: string;
  /** Days a republished item is kept before TTL deletes it: the relay's retention. @default 7 */
  readonly retentionDays?: number;
  /** Largest PutEvents entry and call in bytes: the relay's setting. @default 1048576 (1 MiB) */
  readonly putEventsMaxBytes?: number;
  /** Powertools service name. @default 'outbox-reconciler' */
  readonly serviceName?: string;
  /** Log level, retention and metrics namespace of the function. @default PowertoolsFunction defaults */
  readonly functionDefaults?: FunctionDefaults;
}

/**
 * Delivery tracking's safety net: on a schedule, find outbox items still unpublished after
 * `threshold` and republish them through the relay's publisher, then record them as published.
 * It lists each minute from its saved watermark (a time-ordered table by its key, a same-table
 * layout by its sparse time index) and compares it with the minute's receipts; an event that keeps
 * failing is retried apart from the watermark and parked after a bounded number of runs. An event
 * survives a relay outage longer than the stream's 24-hour retention, or a batch the relay gave up on.
 *
 * IAM: events:PutEvents on the bus, sqs:SendMessage on the poison queue, and on the table
 * dynamodb:Query, GetItem, PutItem, UpdateItem and DeleteItem (receipts, watermark, stuck events),
 * plus dynamodb:Query on the time index of a same-table layout.
 */
export class OutboxReconciler extends Construct {
  /** The reconciler function, deployed from the package's prebuilt asset. */
  public readonly function: EngineFunction;
  /** The EventBridge schedule that invokes it every `interval`. */
  public readonly schedule: Rule;
  /** Items pending longer than this are republished. */
  public readonly threshold: Duration;
  /** How often it runs. */
  public readonly interval: Duration;
  /** Powertools service name: the `service` dimension of ReconcilerRepublished. */
  public readonly serviceName: string;

  constructor(scope: Construct, id: string, props: OutboxReconcilerProps) {
    super(scope, id);
    this.threshold = props.threshold ?? Duration.minutes(15);
    this.interval = props.interval ?? Duration.minutes(5);
    const timeout = props.timeout ?? Duration.minutes(2);
    if (this.interval.toSeconds() < 60)
      throw new Error('OutboxReconciler: interval must be at least 1 minute');
    if (timeout.toSeconds() <= 30 || timeout.toSeconds() > 900)
      throw new Error('OutboxReconciler: timeout must be over 30 seconds and at most 15 minutes');
    if (timeout.toSeconds() >= this.interval.toSeconds())
      throw new Error('OutboxReconciler: timeout must be shorter than interval, so runs do not overlap');

    const environment = contractEnv('OutboxReconciler', reconcilerSettings, {
      eventBusName: props.eventBus.eventBusName,
      source: props.source,
      poisonQueueUrl: props.poisonQueue.queueUrl,
      putEventsMaxBytes: props.putEventsMaxBytes ?? DEFAULT_PUT_EVENTS_LIMITS.maxCallBytes,
      tableName: props.table.tableName,
      layout: props.layout,
      retentionDays: props.retentionDays ?? 7,
      thresholdSeconds: this.threshold.toSeconds(),
      maxItemsPerRun: props.maxItemsPerRun ?? 5000,
    });

    this.serviceName = props.serviceName ?? OutboxServiceName.Reconciler;
    this.function = new EngineFunction(this, 'Function', {
      ...props.functionDefaults,
      asset: 'reconciler',
      serviceName: this.serviceName,
      timeout,
      // A missed run is made up by the next one; retrying a late one would only overlap it.
      retryAttempts: 0,
      environment,
    });

    // Lists minutes (Query, on a same table through its time index) and reads their receipts
    // (Query), reads and saves its watermark (GetItem, PutItem), writes receipts of what it
    // republished (PutItem) and keeps what it parked past its TTL (UpdateItem). Keeps the events
    // that failed to republish in the table, each retried on its own backoff: lists them (Query),
    // reads their items again (GetItem), saves them (PutItem) and deletes them once published or
    // parked (DeleteItem).
    grantOnTable(props.table, this.function, [
      'dynamodb:Query',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
    ]);
    if (props.layout.kind === 'same-table')
      this.function.addToRolePolicy(
        new PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: [`${props.table.tableArn}/index/${props.layout.timeIndex.indexName}`],
        }),
      );
    props.eventBus.grantPutEventsTo(this.function);
    grantSendOnly(props.poisonQueue, this.function);

    this.schedule = new Rule(this, 'Schedule', {
      description: 'Republish outbox events still unpublished after the threshold',
      schedule: Schedule.rate(this.interval),
      enabled: props.enabled ?? true,
    });
    this.schedule.addTarget(new LambdaFunction(this.function, { retryAttempts: 0 }));
  }
}
