import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type Archive, EventBus } from 'aws-cdk-lib/aws-events';
import type { Construct } from 'constructs';
import type { StageConfig } from './config';
import { DataEncryption } from './constructs/encryption';
import { Inventory } from './constructs/inventory';
import { OutboxMonitoring } from './constructs/monitoring';
import { OrdersApi } from './constructs/orders-api';
import { OrdersTable } from './constructs/orders-table';
import { OutboxOutputs } from './constructs/outbox-outputs';
import { OutboxReconciler } from './constructs/outbox-reconciler';
import { OutboxRelay } from './constructs/outbox-relay';

export interface OrdersStackProps extends StackProps {
  readonly config: StageConfig;
}

/** Composes the outbox service: stateful resources first, then the functions that use them. */
export class OrdersStack extends Stack {
  public readonly table: ITableV2;
  /** The bus the outbox events are published to. */
  public readonly eventBus: EventBus;
  /** Keeps every published event for replay (configurable retention). */
  public readonly archive: Archive;
  /** Publishes every committed outbox item from the table's stream to the bus. */
  public readonly relay: OutboxRelay;
  /** Republishes events still unpublished after a threshold; only with delivery tracking. */
  public readonly reconciler: OutboxReconciler | undefined;
  /** The inventory service: an idempotent consumer of the order events. */
  public readonly inventory: Inventory;
  /** The orders HTTP API: writes each order and its outbox event in one transaction. */
  public readonly api: OrdersApi;
  /** The customer managed data key, or `undefined` for AWS owned keys: pass it to every construct. */
  public readonly encryption: DataEncryption;
  /** Alarms and dashboard: hand it each part with its `monitor*` methods. */
  public readonly monitoring: OutboxMonitoring;
  /** Where the outbox CLI finds the table, bus and queues of this stack. */
  public readonly outputs: OutboxOutputs;

  constructor(scope: Construct, id: string, props: OrdersStackProps) {
    super(scope, id, props);
    const { config } = props;
    const retainData = config.stage === 'prod';
    const logRemovalPolicy = retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.encryption = new DataEncryption(this, 'Encryption', {
      mode: config.encryption,
      keyArn: config.kmsKeyArn,
      retain: retainData,
    });
    this.table = new OrdersTable(this, 'Orders', { retainData, encryptionKey: this.encryption.key }).table;
    this.eventBus = new EventBus(this, 'Bus', {
      ...(this.encryption.key ? { kmsKey: this.encryption.key } : {}),
    });
    this.archive = this.eventBus.archive('Archive', {
      description: 'Every published outbox event, for replay to a consumer that needs it again',
      eventPattern: { source: [config.outbox.eventSource] },
      ...(config.outbox.archiveRetentionDays > 0
        ? { retention: Duration.days(config.outbox.archiveRetentionDays) }
        : {}),
      ...(this.encryption.key ? { kmsKey: this.encryption.key } : {}),
    });
    this.relay = new OutboxRelay(this, 'Relay', {
      table: this.table,
      eventBus: this.eventBus,
      source: config.outbox.eventSource,
      deliveryTracking: config.outbox.deliveryTracking,
      ...(config.outbox.deliveryTracking ? { retentionDays: config.outbox.retentionDays } : {}),
      encryptionKey: this.encryption.key,
      logLevel: config.logLevel,
      logRetention: config.logRetentionDays,
      logRemovalPolicy,
      metricsNamespace: config.metricsNamespace,
    });
    const reconcilerThreshold = Duration.minutes(config.outbox.reconcilerThresholdMinutes);
    const reconcilerInterval = Duration.minutes(config.outbox.reconcilerIntervalMinutes);
    this.reconciler = config.outbox.deliveryTracking
      ? new OutboxReconciler(this, 'Reconciler', {
          table: this.table,
          eventBus: this.eventBus,
          poisonQueue: this.relay.poisonQueue,
          source: config.outbox.eventSource,
          threshold: reconcilerThreshold,
          interval: reconcilerInterval,
          retentionDays: config.outbox.retentionDays,
          logLevel: config.logLevel,
          logRetention: config.logRetentionDays,
          logRemovalPolicy,
          metricsNamespace: config.metricsNamespace,
        })
      : undefined;
    // An event can be published again for as long as its stream record can be replayed (24 h)
    // and, with delivery tracking, until the reconciler's first run past its threshold.
    const upstreamRedeliveryWindow = config.outbox.deliveryTracking
      ? Duration.hours(24).plus(reconcilerThreshold).plus(reconcilerInterval)
      : Duration.hours(24);
    this.inventory = new Inventory(this, 'Inventory', {
      eventBus: this.eventBus,
      eventSource: config.outbox.eventSource,
      upstreamRedeliveryWindow,
      encryptionKey: this.encryption.key,
      retainData,
      logLevel: config.logLevel,
      logRetention: config.logRetentionDays,
      logRemovalPolicy,
      metricsNamespace: config.metricsNamespace,
    });
    this.api = new OrdersApi(this, 'Api', {
      table: this.table,
      authorization:
        config.api.auth === 'jwt'
          ? { type: 'jwt', issuer: config.api.jwtIssuer, audience: config.api.jwtAudience }
          : { type: 'iam' },
      throttlingRateLimit: config.api.rateLimit,
      throttlingBurstLimit: config.api.burstLimit,
      deliveryTracking: config.outbox.deliveryTracking,
      outboxRetentionDays: config.outbox.retentionDays,
      logLevel: config.logLevel,
      logRetention: config.logRetentionDays,
      accessLogRetention: config.logRetentionDays,
      logRemovalPolicy,
      metricsNamespace: config.metricsNamespace,
    });
    new CfnOutput(this, 'ApiUrl', {
      value: this.api.url,
      description: 'Orders API base URL; requests must be SigV4-signed (or carry a JWT with apiAuth=jwt)',
    });
    this.monitoring = new OutboxMonitoring(this, 'Monitoring', {
      metricsNamespace: config.metricsNamespace,
      alarmEmail: config.alarmEmail,
      thresholds: {
        iteratorAge: Duration.seconds(config.alarms.iteratorAgeSeconds),
        relayLagP99: Duration.millis(config.alarms.relayLagP99Ms),
        api5xxRatePercent: config.alarms.api5xxRatePercent,
      },
    });
    this.monitoring.monitorRelay({ function: this.relay.handler, serviceName: this.relay.serviceName });
    this.monitoring.monitorApi({ api: this.api.api, serviceName: this.api.serviceName });
    this.monitoring.monitorDeadLetterQueue({ name: 'relay-poison', queue: this.relay.poisonQueue });
    this.monitoring.monitorDeadLetterQueue({ name: 'relay-failures', queue: this.relay.failureQueue });
    if (this.reconciler)
      this.monitoring.monitorReconciler({
        function: this.reconciler.handler,
        serviceName: this.reconciler.serviceName,
      });
    const { consumer } = this.inventory;
    this.monitoring.monitorConsumer({ function: consumer.function, serviceName: consumer.serviceName });
    this.monitoring.monitorDeadLetterQueue({ name: 'inventory-dlq', queue: consumer.deadLetterQueue });

    // What `npm run outbox -- status|redrive --stack <name>` reads (cli/target.ts).
    this.outputs = new OutboxOutputs(this, 'CliOutputs', {
      table: this.table,
      eventBus: this.eventBus,
      eventSource: config.outbox.eventSource,
      retentionDays: config.outbox.retentionDays,
      poisonQueue: this.relay.poisonQueue,
      queues: {
        RelayFailure: {
          queue: this.relay.failureQueue,
          description: 'Stream batches the relay mapping gave up on',
        },
        InventoryDeadLetter: {
          queue: consumer.deadLetterQueue,
          description: 'Events the inventory consumer could not take',
        },
      },
    });
  }
}
