import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import type { Construct } from 'constructs';
import type { StageConfig } from './config';
import { DataEncryption } from './constructs/encryption';
import { OutboxMonitoring } from './constructs/monitoring';
import { OrdersApi } from './constructs/orders-api';
import { OrdersTable } from './constructs/orders-table';
import { OutboxRelay } from './constructs/outbox-relay';

export interface OrdersStackProps extends StackProps {
  readonly config: StageConfig;
}

/** Composes the outbox service: stateful resources first, then the functions that use them. */
export class OrdersStack extends Stack {
  public readonly table: ITableV2;
  /** The bus the outbox events are published to. */
  public readonly eventBus: EventBus;
  /** Publishes every committed outbox item from the table's stream to the bus. */
  public readonly relay: OutboxRelay;
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
    this.encryption = new DataEncryption(this, 'Encryption', {
      mode: config.encryption,
      keyArn: config.kmsKeyArn,
      retain: retainData,
    });
    this.table = new OrdersTable(this, 'Orders', { retainData, encryptionKey: this.encryption.key }).table;
    this.eventBus = new EventBus(this, 'Bus', {
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
  }
}
