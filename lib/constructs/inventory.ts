import { fileURLToPath } from 'node:url';
import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { inventoryTable } from '../../lambdas/inventory/tables';
import { inventorySubscription } from '../../lambdas/shared/subscriptions';
import { IdempotentConsumer, type IdempotentConsumerProps } from './idempotent-consumer';
import type { OutboxFunctionProps } from './outbox-function';
import { tableSafety } from './table-safety';

export interface InventoryProps {
  readonly eventBus: IEventBus;
  /** The `source` the relay publishes with; the subscription matches on it. */
  readonly eventSource: string;
  /** @see IdempotentConsumerProps.upstreamRedeliveryWindow @default Duration.hours(24) */
  readonly upstreamRedeliveryWindow?: Duration;
  /** @default AWS owned keys */
  readonly encryptionKey?: IKey;
  /** Retain the inventory and idempotency tables on stack deletion, with deletion protection. @default false */
  readonly retainData?: boolean;
  /** @default OutboxFunction defaults */
  readonly logLevel?: OutboxFunctionProps['logLevel'];
  /** @default OutboxFunction defaults */
  readonly logRetention?: OutboxFunctionProps['logRetention'];
  /** What happens to the consumer function's log group when it leaves the stack. @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** CloudWatch namespace of the consumer's metrics. @default OutboxFunction defaults */
  readonly metricsNamespace?: string;
  /** Passed through to the consumer (DLQ retention, async retries, ...). @default IdempotentConsumer defaults */
  readonly consumer?: Pick<
    IdempotentConsumerProps,
    'asyncRetryAttempts' | 'asyncMaxEventAge' | 'idempotencyTtl' | 'deadLetterRetention'
  >;
}

/**
 * The inventory service: its own table of stock reservations, fed by an idempotent consumer of
 * OrderPlaced / OrderCancelled. It never touches the orders table.
 */
export class Inventory extends Construct {
  public readonly table: TableV2;
  public readonly consumer: IdempotentConsumer;

  constructor(scope: Construct, id: string, props: InventoryProps) {
    super(scope, id);
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: inventoryTable.partitionKey, type: AttributeType.STRING },
      sortKey: { name: inventoryTable.sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      ...tableSafety(props),
    });

    this.consumer = new IdempotentConsumer(this, 'Consumer', {
      ...props.consumer,
      eventBus: props.eventBus,
      subscription: inventorySubscription(props.eventSource),
      entry: fileURLToPath(new URL('../../lambdas/inventory/handler.ts', import.meta.url)),
      ...(props.upstreamRedeliveryWindow ? { upstreamRedeliveryWindow: props.upstreamRedeliveryWindow } : {}),
      ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
      ...(props.retainData === undefined ? {} : { retainData: props.retainData }),
      functionProps: {
        ...(props.logLevel ? { logLevel: props.logLevel } : {}),
        ...(props.logRetention ? { logRetention: props.logRetention } : {}),
        ...(props.logRemovalPolicy ? { logRemovalPolicy: props.logRemovalPolicy } : {}),
        ...(props.metricsNamespace ? { metricsNamespace: props.metricsNamespace } : {}),
      },
    });
    // Read the order's reservation; write it and its sku items, or delete them on release
    // (a transaction needs each of its actions granted; there is no TransactWriteItems action).
    this.consumer.function.useTable(this.table, 'INVENTORY_TABLE_NAME', [
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:DeleteItem',
    ]);
  }
}
