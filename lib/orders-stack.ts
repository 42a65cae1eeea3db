import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import type { StageConfig } from './config';
import { DataEncryption } from './constructs/encryption';
import { OutboxMonitoring } from './constructs/monitoring';
import { OrdersTable } from './constructs/orders-table';

export interface OrdersStackProps extends StackProps {
  readonly config: StageConfig;
}

/** Composes the outbox service: stateful resources first, then the functions that use them. */
export class OrdersStack extends Stack {
  public readonly table: ITableV2;
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
    this.monitoring = new OutboxMonitoring(this, 'Monitoring', {
      metricsNamespace: config.metricsNamespace,
      alarmEmail: config.alarmEmail,
      thresholds: {
        iteratorAge: Duration.seconds(config.alarms.iteratorAgeSeconds),
        relayLagP99: Duration.millis(config.alarms.relayLagP99Ms),
        api5xxRatePercent: config.alarms.api5xxRatePercent,
      },
    });
  }
}
