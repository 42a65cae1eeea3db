import { fileURLToPath } from 'node:url';
import { AttributeType, Billing, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { FunctionDefaults } from 'dynamodb-outbox';
import {
  grantOnTable,
  OutboxConsumer,
  type OutboxConsumerProps,
  type OutboxEventSource,
  tableSafety,
} from 'dynamodb-outbox';
import { inventorySubscription } from '../../lambdas/inventory/subscription';
import { inventoryTable } from '../../lambdas/inventory/tables';

export interface InventoryProps {
  /** The orders outbox: its bus, and its redelivery window for the idempotency window. */
  readonly outbox: OutboxEventSource;
  /** The `source` the orders outbox publishes with; the subscription matches on it. */
  readonly eventSource: string;
  /** @default AWS owned keys */
  readonly encryptionKey?: IKey;
  /** Retain the inventory and idempotency tables on stack deletion, with deletion protection. @default false */
  readonly retainData?: boolean;
  /** Log level, retention and metrics namespace of the consumer function. @default PowertoolsFunction defaults */
  readonly functionDefaults?: FunctionDefaults;
  /** Passed through to the consumer (DLQ retention, async retries, ...). @default OutboxConsumer defaults */
  readonly consumer?: Pick<
    OutboxConsumerProps,
    'asyncRetryAttempts' | 'asyncMaxEventAge' | 'idempotencyTtl' | 'deadLetterRetention'
  >;
}

/**
 * The inventory service: its own table of stock reservations, fed by an idempotent consumer of
 * OrderPlaced / OrderCancelled. It never touches the orders table.
 */
export class Inventory extends Construct {
  public readonly table: TableV2;
  public readonly consumer: OutboxConsumer;

  constructor(scope: Construct, id: string, props: InventoryProps) {
    super(scope, id);
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: inventoryTable.partitionKey, type: AttributeType.STRING },
      sortKey: { name: inventoryTable.sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      ...tableSafety(props),
    });

    this.consumer = new OutboxConsumer(this, 'Consumer', {
      ...props.consumer,
      outbox: props.outbox,
      subscription: inventorySubscription(props.eventSource),
      entry: fileURLToPath(new URL('../../lambdas/inventory/handler.ts', import.meta.url)),
      ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
      ...(props.retainData === undefined ? {} : { retainData: props.retainData }),
      ...(props.functionDefaults ? { functionProps: props.functionDefaults } : {}),
    });
    // Read the order's reservation; write it and its sku items, or delete them on release
    // (a transaction needs each of its actions granted; there is no TransactWriteItems action).
    grantOnTable(this.table, this.consumer.function, [
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:DeleteItem',
    ]);
    this.consumer.function.addEnvironment('INVENTORY_TABLE_NAME', this.table.tableName);
  }
}
