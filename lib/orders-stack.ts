import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type Archive, EventBus } from 'aws-cdk-lib/aws-events';
import type { Construct } from 'constructs';
import { OutboxMonitoring, TransactionalOutbox } from 'dynamodb-outbox';
import { INVENTORY_SOURCE } from '../lambdas/inventory/events';
import { OrdersMetric } from '../lambdas/orders/events';
import { ordersOutboxLayout } from '../lambdas/orders/table';
import type { StageConfig } from './config';
import { DataEncryption } from './constructs/encryption';
import { Inventory } from './constructs/inventory';
import { OrderSaga } from './constructs/order-saga';
import { OrdersApi } from './constructs/orders-api';
import { OrdersTable } from './constructs/orders-table';

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
  /** The orders table's outbox: relay, reconciler (with delivery tracking), queues and alarms. */
  public readonly outbox: TransactionalOutbox;
  /** The inventory service: stock per SKU, its own outbox, a transactional consumer of the order events. */
  public readonly inventory: Inventory;
  /** The orders side of the saga: the consumer of inventory's answers and the deadline sweeper. */
  public readonly saga: OrderSaga;
  /** The orders HTTP API: writes each order and its outbox event in one transaction. */
  public readonly api: OrdersApi;
  /** The customer managed data key, or `undefined` for AWS owned keys: pass it to every construct. */
  public readonly encryption: DataEncryption;
  /** Alarms and dashboard: hand it each part with its `monitor*` methods. */
  public readonly monitoring: OutboxMonitoring;

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
    this.table = new OrdersTable(this, 'Orders', {
      retainData,
      encryptionKey: this.encryption.key,
      deliveryTracking: config.outbox.deliveryTracking,
    }).table;
    this.eventBus = new EventBus(this, 'Bus', {
      ...(this.encryption.key ? { kmsKey: this.encryption.key } : {}),
    });
    this.archive = this.eventBus.archive('Archive', {
      description: 'Every published outbox event, for replay to a consumer that needs it again',
      eventPattern: { source: [config.outbox.eventSource, INVENTORY_SOURCE] },
      ...(config.outbox.archiveRetentionDays > 0
        ? { retention: Duration.days(config.outbox.archiveRetentionDays) }
        : {}),
      ...(this.encryption.key ? { kmsKey: this.encryption.key } : {}),
    });
    const functionDefaults = {
      logLevel: config.logLevel,
      logRetention: config.logRetentionDays,
      logRemovalPolicy,
      metricsNamespace: config.metricsNamespace,
    };
    this.monitoring = new OutboxMonitoring(this, 'Monitoring', {
      metricsNamespace: config.metricsNamespace,
      alarmEmail: config.alarmEmail,
      thresholds: {
        iteratorAge: Duration.seconds(config.alarms.iteratorAgeSeconds),
        relayLagP99: Duration.millis(config.alarms.relayLagP99Ms),
        api5xxRatePercent: config.alarms.api5xxRatePercent,
      },
    });
    // Both outboxes (orders' and inventory's) track delivery and keep their items alike.
    const outboxProps = {
      deliveryTracking: config.outbox.deliveryTracking,
      retentionDays: config.outbox.retentionDays,
      ...(config.outbox.deliveryTracking
        ? {
            reconciler: {
              threshold: Duration.minutes(config.outbox.reconcilerThresholdMinutes),
              interval: Duration.minutes(config.outbox.reconcilerIntervalMinutes),
            },
          }
        : {}),
    };
    this.outbox = new TransactionalOutbox(this, 'Outbox', {
      table: this.table,
      layout: ordersOutboxLayout,
      eventBus: this.eventBus,
      source: config.outbox.eventSource,
      ...outboxProps,
      encryptionKey: this.encryption.key,
      functionDefaults,
      monitoring: this.monitoring,
      archive: this.archive,
    });
    this.inventory = new Inventory(this, 'Inventory', {
      outbox: this.outbox,
      eventSource: config.outbox.eventSource,
      encryptionKey: this.encryption.key,
      retainData,
      functionDefaults,
      outboxProps: {
        ...outboxProps,
        // OutboxMonitoring watches one outbox; inventory's alarms carry a prefix of their own.
        monitoringProps: {
          namePrefix: `${this.stackName}-inventory`,
          metricsNamespace: config.metricsNamespace,
          alarmEmail: config.alarmEmail,
          thresholds: {
            iteratorAge: Duration.seconds(config.alarms.iteratorAgeSeconds),
            relayLagP99: Duration.millis(config.alarms.relayLagP99Ms),
          },
        },
      },
    });
    this.saga = new OrderSaga(this, 'Saga', {
      table: this.table,
      outbox: this.outbox,
      inventoryOutbox: this.inventory.outbox,
      deadline: Duration.minutes(config.saga.deadlineMinutes),
      functionDefaults,
    });
    this.api = new OrdersApi(this, 'Api', {
      table: this.table,
      authorization:
        config.api.auth === 'jwt'
          ? { type: 'jwt', issuer: config.api.jwtIssuer, audience: config.api.jwtAudience }
          : { type: 'iam' },
      throttlingRateLimit: config.api.rateLimit,
      throttlingBurstLimit: config.api.burstLimit,
      outbox: this.outbox,
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
    this.monitoring.monitorApi({
      api: this.api.api,
      serviceName: this.api.serviceName,
      commitsMetric: { name: OrdersMetric.OrdersPlaced, label: 'orders placed' },
    });
    for (const [name, consumer] of [
      ['inventory-dlq', this.inventory.consumer],
      ['order-answers-dlq', this.saga.answers],
    ] as const) {
      this.monitoring.monitorConsumer({ function: consumer.function, serviceName: consumer.serviceName });
      this.monitoring.monitorDeadLetterQueue({ name, queue: consumer.deadLetterQueue });
    }
  }
}
