import { Duration, Stack } from 'aws-cdk-lib';
import { CfnGlobalTable, CfnTable, type ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { Archive, IEventBus } from 'aws-cdk-lib/aws-events';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { OutboxLayout, SameTableLayout } from '../runtime/layout.js';
import { type WriterSettings, writerSettings } from '../runtime/settings.js';
import {
  OutboxOutput,
  type OutboxOutputName,
  outboxOutputKey,
  outputPrefix,
} from '../runtime/stack-outputs.js';
import { contractEnv } from './contract.js';
import type { FunctionDefaults } from './function.js';
import { grantOnTable } from './grants.js';
import { OutboxMonitoring, type OutboxMonitoringProps } from './monitoring.js';
import { OutboxTable, timeOrderedTableLayout } from './outbox-table.js';
import { addCliOutputs } from './outputs.js';
import { OutboxReconciler, type ReconcilerScheduleProps } from './reconciler.js';
import { OutboxRelay, type OutboxRelayProps, type RelayMappingProps } from './relay.js';

/** DynamoDB Streams keeps a record for 24 hours; the relay can be handed it again until then. */
const STREAM_RETENTION = Duration.hours(24);

export interface TransactionalOutboxProps {
  /** The service's table: the one its commands write to, and the outbox items beside them with a same-table layout. */
  readonly table: ITable;
  /** The bus the events are published to. */
  readonly eventBus: IEventBus;
  /**
   * Put the outbox items beside the aggregates in `table` (`sameTableLayout({ partitionKey, sortKey })`),
   * which then needs `outboxTableProps(layout)`: a stream, TTL and a sparse time index. Delivery is
   * tracked with one receipt per relay invocation, as on the default table; each item's index entry
   * costs a little more per event (see the README's Performance section).
   * @default a dedicated outbox table created here, keyed by time (`TIME_ORDERED_TABLE_LAYOUT`) and
   * tracked with one receipt per relay invocation: `table` needs nothing
   */
  readonly layout?: SameTableLayout;
  /**
   * Partitions each minute of the dedicated outbox table is spread over, 1 to 100: its write
   * ceiling. A partition takes 1,000 write units a second and the outbox Put in a transaction costs
   * 2 per KB, so 8 partitions take about 4,000 one-KB events a second; the reconciler pays one
   * Query per partition per minute it reads. `dynamodb-outbox capacity` and docs/capacity.md work
   * out the count for a rate. Raise it at any time; to lower it, see `previousShardCount`.
   * @default 8
   */
  readonly shardCount?: number;
  /**
   * After lowering `shardCount` on a live table: the count it had before. Items written then sit
   * in partitions up to it, and the reconciler keeps listing them; remove it `retentionDays` after
   * the change, when TTL has taken those items.
   * @default none
   */
  readonly previousShardCount?: number;
  /**
   * `source` of every published event (1 to 256 characters, not `aws.`-prefixed).
   * @default the stack name
   */
  readonly source?: string;
  /**
   * Record which events are out, and republish the rest from a scheduled reconciler: events
   * survive a relay outage longer than the stream's 24 hours.
   * @default true
   */
  readonly deliveryTracking?: boolean;
  /**
   * Days an outbox item is kept after it is written, either layout, 1 to 3650.
   * @default 7
   */
  readonly retentionDays?: number;
  /** The relay's stream mapping and function. @default see RelayMappingProps and OutboxRelayProps */
  readonly relay?: RelayMappingProps &
    Pick<OutboxRelayProps, 'putEventsMaxBytes' | 'timeout' | 'memorySize' | 'serviceName'>;
  /** The reconciler's schedule, only with delivery tracking. @default see ReconcilerScheduleProps */
  readonly reconciler?: ReconcilerScheduleProps;
  /**
   * Customer managed key for the queues and the dedicated outbox table.
   * @default AWS owned keys (SSE-SQS, DynamoDB owned key)
   */
  readonly encryptionKey?: IKey;
  /**
   * Retain the dedicated outbox table on stack deletion, with deletion protection. Only with the
   * dedicated layout: a same-table outbox lives in a table the service owns.
   * @default false
   */
  readonly retainData?: boolean;
  /** Log level, retention and metrics namespace of the relay and the reconciler. @default PowertoolsFunction defaults */
  readonly functionDefaults?: FunctionDefaults;
  /**
   * Where the relay's, reconciler's and queues' alarms go. Pass the service's own monitoring to
   * have one topic and one dashboard for everything.
   * @default a new OutboxMonitoring with `monitoringProps`
   */
  readonly monitoring?: OutboxMonitoring;
  /** Settings of the monitoring created when `monitoring` is not given. @default OutboxMonitoring defaults */
  readonly monitoringProps?: OutboxMonitoringProps;
  /**
   * The archive of `eventBus` that keeps the outbox's events: `replay` replays from it (the stack
   * output `<id>ArchiveArn`).
   * @default none (`replay` on AWS then needs --archive-arn)
   */
  readonly archive?: Pick<Archive, 'archiveArn'>;
}

/** The attributes of a table's L1 resource, resolved; undefined for an imported table. */
const tableResource = (table: ITable): Record<string, unknown> | undefined => {
  const cfn = table.node.defaultChild;
  if (!(cfn instanceof CfnGlobalTable || cfn instanceof CfnTable)) return undefined;
  const resolve = (value: unknown) => Stack.of(cfn).resolve(value) as unknown;
  return {
    keySchema: resolve(cfn.keySchema),
    globalSecondaryIndexes: resolve(cfn.globalSecondaryIndexes),
    timeToLiveSpecification: resolve(cfn.timeToLiveSpecification),
  };
};

/**
 * The transactional outbox for a service's DynamoDB table: the relay (stream → EventBridge), the
 * reconciler with delivery tracking, their poison queue and failure bucket, and their alarms. The
 * service adds its events to its own TransactWriteItems with `OutboxWriter`; `grantWrite` gives
 * its function what that needs. The stack outputs `<id>TableName`, `<id>Layout`, `<id>EventSource`,
 * ... tell the `dynamodb-outbox` CLI where the outbox is (`status`, `redrive`, `replay`).
 *
 * ```ts
 * const outbox = new TransactionalOutbox(this, 'Outbox', { table, eventBus });
 * outbox.grantWrite(serviceFunction);
 * ```
 */
export class TransactionalOutbox extends Construct {
  /** The table holding the outbox items: the service's (same table) or the dedicated one. */
  public readonly table: ITable;
  /** The dedicated outbox table, created when no layout is given. */
  public readonly outboxTable: OutboxTable | undefined;
  /** How outbox items are keyed and recognised in `table`. */
  public readonly layout: OutboxLayout;
  /** The bus the events are published to. */
  public readonly eventBus: IEventBus;
  /** The `source` of every published event. */
  public readonly source: string;
  /** Whether the relay records what it published and the reconciler republishes the rest. */
  public readonly deliveryTracking: boolean;
  /** Days an outbox item is kept (TTL). */
  public readonly retentionDays: number;
  /** The stream relay: function and event source mapping. */
  public readonly relay: OutboxRelay;
  /** Republishes events still unpublished past its threshold; only with delivery tracking. */
  public readonly reconciler: OutboxReconciler | undefined;
  /** Events that can never be published as they are, with their full content. */
  public readonly poisonQueue: Queue;
  /** Stream batches the relay's mapping gave up on, with their records. */
  public readonly failureBucket: Bucket;
  /** Alarms and the dashboard; add consumers and queues with `monitorConsumer` and `monitorDeadLetterQueue`. */
  public readonly monitoring: OutboxMonitoring;
  /**
   * How long after an event was first published it may be published again upstream of the bus:
   * the stream's retention and, with delivery tracking, the reconciler's threshold and interval.
   * Consumers derive their idempotency window from it.
   */
  public readonly redeliveryWindow: Duration;

  constructor(scope: Construct, id: string, props: TransactionalOutboxProps) {
    super(scope, id);
    this.deliveryTracking = props.deliveryTracking ?? true;
    this.retentionDays = props.retentionDays ?? 7;
    this.source = props.source ?? Stack.of(this).stackName;
    this.eventBus = props.eventBus;
    if (!this.deliveryTracking && props.reconciler !== undefined)
      throw new Error('TransactionalOutbox: reconciler applies only with deliveryTracking: true');
    if (props.monitoring !== undefined && props.monitoringProps !== undefined)
      throw new Error('TransactionalOutbox: give monitoring or monitoringProps, not both');

    // A time-ordered layout is the construct's own table: only a same-table layout can be given
    // (checked here too for callers without the types).
    if (props.layout !== undefined && props.layout.kind !== 'same-table')
      throw new Error(
        `TransactionalOutbox: layout takes a same-table layout (sameTableLayout); leave it out for the dedicated, time-ordered table`,
      );
    if (props.layout === undefined) {
      const { shardCount, previousShardCount } = timeOrderedTableLayout(props, 'TransactionalOutbox');
      this.outboxTable = new OutboxTable(this, 'OutboxTable', {
        ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
        ...(props.retainData === undefined ? {} : { retainData: props.retainData }),
        shardCount,
        ...(previousShardCount === undefined ? {} : { previousShardCount }),
      });
      this.table = this.outboxTable.table;
      this.layout = this.outboxTable.layout;
    } else {
      if (props.retainData !== undefined)
        throw new Error(
          'TransactionalOutbox: retainData applies only to the dedicated outbox table; a same-table outbox lives in your table',
        );
      for (const prop of ['shardCount', 'previousShardCount'] as const)
        if (props[prop] !== undefined)
          throw new Error(
            `TransactionalOutbox: ${prop} applies only to the dedicated outbox table, not with layout; ` +
              'a same-table layout spreads its time index with sameTableLayout({ shardCount, previousShardCount })',
          );
      this.outboxTable = undefined;
      this.table = props.table;
      this.layout = props.layout;
      this.checkSameTable(props.layout);
    }

    this.relay = new OutboxRelay(this, 'Relay', {
      ...props.relay,
      table: this.table,
      layout: this.layout,
      eventBus: props.eventBus,
      source: this.source,
      deliveryTracking: this.deliveryTracking,
      retentionDays: this.retentionDays,
      ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
      ...(props.functionDefaults ? { functionDefaults: props.functionDefaults } : {}),
    });
    this.poisonQueue = this.relay.poisonQueue;
    this.failureBucket = this.relay.failureBucket;

    this.reconciler = this.deliveryTracking
      ? new OutboxReconciler(this, 'Reconciler', {
          ...props.reconciler,
          table: this.table,
          layout: this.layout,
          eventBus: props.eventBus,
          poisonQueue: this.poisonQueue,
          source: this.source,
          retentionDays: this.retentionDays,
          ...(props.relay?.putEventsMaxBytes ? { putEventsMaxBytes: props.relay.putEventsMaxBytes } : {}),
          ...(props.functionDefaults ? { functionDefaults: props.functionDefaults } : {}),
        })
      : undefined;
    this.redeliveryWindow = this.reconciler
      ? STREAM_RETENTION.plus(this.reconciler.threshold).plus(this.reconciler.interval)
      : STREAM_RETENTION;

    this.monitoring =
      props.monitoring ??
      new OutboxMonitoring(this, 'Monitoring', {
        ...(props.functionDefaults?.metricsNamespace
          ? { metricsNamespace: props.functionDefaults.metricsNamespace }
          : {}),
        ...props.monitoringProps,
      });
    this.monitoring.monitorRelay({ function: this.relay.function, serviceName: this.relay.serviceName });
    this.monitoring.monitorDeadLetterQueue({ name: 'relay-poison', queue: this.poisonQueue });
    this.monitoring.monitorFailureDestination({ name: 'relay-failures', metric: this.relay.failureMetric });
    if (this.reconciler)
      this.monitoring.monitorReconciler({
        function: this.reconciler.function,
        serviceName: this.reconciler.serviceName,
      });
    this.addOutputs(outputPrefix(id), props.archive);
  }

  /** What the CLI reads to find this outbox, on AWS and offline (runtime/stack-outputs.ts). */
  private addOutputs(prefix: string, archive: Pick<Archive, 'archiveArn'> | undefined): void {
    const outputs: Partial<Record<OutboxOutputName, { value: string; description: string }>> = {
      [OutboxOutput.TableName]: {
        value: this.table.tableName,
        description: 'Table holding the outbox items',
      },
      [OutboxOutput.Layout]: {
        value: JSON.stringify(this.layout),
        description: 'How the outbox items are keyed in the table (JSON)',
      },
      [OutboxOutput.EventBusName]: {
        value: this.eventBus.eventBusName,
        description: 'Bus the outbox events are published to',
      },
      [OutboxOutput.EventBusArn]: {
        value: this.eventBus.eventBusArn,
        description: 'Bus the outbox events are published to (ARN), the destination of a replay',
      },
      [OutboxOutput.EventSource]: { value: this.source, description: 'Source of the published events' },
      [OutboxOutput.RetentionDays]: {
        value: String(this.retentionDays),
        description: 'Days a published outbox item is kept before TTL',
      },
      [OutboxOutput.PoisonQueueUrl]: {
        value: this.poisonQueue.queueUrl,
        description: 'Events that can never be published as they are',
      },
      [OutboxOutput.FailureBucketName]: {
        value: this.failureBucket.bucketName,
        description:
          'Stream batches the relay mapping gave up on, with their records (redrive --from-failures)',
      },
      ...(archive
        ? {
            [OutboxOutput.ArchiveArn]: {
              value: archive.archiveArn,
              description: 'Archive of the published events, the source of a replay',
            },
          }
        : {}),
    };
    addCliOutputs(
      this,
      Object.fromEntries(
        Object.entries(outputs).map(([name, output]) => [
          outboxOutputKey(prefix, name as OutboxOutputName),
          output,
        ]),
      ),
    );
  }

  /**
   * Everything a service function needs to add outbox items to its transactions: PutItem on the
   * outbox table (and its key), and the writer's settings in its environment
   * (`writerSettings.fromEnv()` reads them).
   */
  grantWrite(fn: LambdaFunction): void {
    grantOnTable(this.table, fn, ['dynamodb:PutItem']);
    const environment = contractEnv('TransactionalOutbox', writerSettings, this.writerSettings);
    for (const [name, value] of Object.entries(environment)) fn.addEnvironment(name, value);
  }

  /** Where and how a writer adds outbox items (the table name a token until deployed). */
  get writerSettings(): WriterSettings {
    return {
      tableName: this.table.tableName,
      layout: this.layout,
      deliveryTracking: this.deliveryTracking,
      retentionDays: this.retentionDays,
    };
  }

  /**
   * A same-table outbox needs the layout's key names to be the table's, the table's TTL attribute
   * and, with tracking, its time index.
   */
  private checkSameTable(layout: SameTableLayout): void {
    const resource = tableResource(this.table);
    if (resource === undefined) return;
    const keys = (resource.keySchema ?? []) as Array<{ attributeName?: string; keyType?: string }>;
    const keyName = (type: string) => keys.find((key) => key.keyType === type)?.attributeName;
    if (keyName('HASH') !== layout.partitionKey || keyName('RANGE') !== layout.sortKey)
      throw new Error(
        `TransactionalOutbox: the layout's keys (${layout.partitionKey}, ${layout.sortKey}) must be the table's ` +
          `(${keyName('HASH') ?? 'none'}, ${keyName('RANGE') ?? 'no sort key'}); pass them to sameTableLayout`,
      );
    const hint = 'spread outboxTableProps(layout) into the table props';
    const ttl = resource.timeToLiveSpecification as { attributeName?: string } | undefined;
    if (ttl?.attributeName !== layout.timeToLiveAttribute)
      throw new Error(
        `TransactionalOutbox: the table's TTL attribute must be the layout's ${layout.timeToLiveAttribute}; ${hint}`,
      );
    const indexes = (resource.globalSecondaryIndexes ?? []) as Array<{ indexName?: string }>;
    if (this.deliveryTracking && !indexes.some((index) => index.indexName === layout.timeIndex.indexName))
      throw new Error(
        `TransactionalOutbox: delivery tracking needs the time index ${layout.timeIndex.indexName} on the table; ${hint}`,
      );
  }
}
