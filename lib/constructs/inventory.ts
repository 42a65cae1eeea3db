import { fileURLToPath } from 'node:url';
import { AttributeType, Billing, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import {
  type FunctionDefaults,
  grantOnTable,
  OutboxConsumer,
  type OutboxConsumerProps,
  type OutboxEventSource,
  PowertoolsFunction,
  TransactionalOutbox,
  type TransactionalOutboxProps,
  tableSafety,
} from 'dynamodb-outbox';
import { INVENTORY_SOURCE } from '../../lambdas/inventory/events';
import { inventorySubscription } from '../../lambdas/inventory/subscription';
import { inventoryTable } from '../../lambdas/inventory/tables';

export interface InventoryProps {
  /** The orders outbox: its bus, and its redelivery window for the inbox window. */
  readonly outbox: OutboxEventSource;
  /** The `source` the orders outbox publishes with; the subscription matches on it. */
  readonly eventSource: string;
  /** @default AWS owned keys */
  readonly encryptionKey?: IKey;
  /** Retain the inventory table and its outbox table on stack deletion, with deletion protection. @default false */
  readonly retainData?: boolean;
  /** Log level, retention and metrics namespace of the functions. @default PowertoolsFunction defaults */
  readonly functionDefaults?: FunctionDefaults;
  /**
   * Delivery tracking, retention, reconciler and monitoring of inventory's outbox (give its
   * monitoring a `namePrefix` of its own: alarm names are unique per account and region).
   * @default TransactionalOutbox defaults
   */
  readonly outboxProps?: Pick<
    TransactionalOutboxProps,
    'deliveryTracking' | 'retentionDays' | 'reconciler' | 'monitoringProps'
  >;
  /** Passed through to the consumer (DLQ retention, async retries, ...). @default OutboxConsumer defaults */
  readonly consumer?: Pick<
    OutboxConsumerProps,
    'asyncRetryAttempts' | 'asyncMaxEventAge' | 'idempotencyTtl' | 'deadLetterRetention'
  >;
}

/**
 * The inventory service: its own table (a stock level per SKU, a reservation per order), its own
 * outbox on the orders' bus (source `inventory`: StockReserved, StockRejected, StockReleased), a
 * transactional consumer of OrderPlaced / OrderCancelled / OrderRejected that changes the stock and
 * emits its answer in one transaction, and a function that reads or sets a SKU's stock. It never
 * touches the orders table.
 */
export class Inventory extends Construct {
  public readonly table: TableV2;
  /** Inventory's own outbox: a dedicated, time-ordered table with its relay and reconciler. */
  public readonly outbox: TransactionalOutbox;
  public readonly consumer: OutboxConsumer;
  /** Reads or sets one SKU's stock: `{ "sku": "SKU-1", "available": 25 }`, invoked directly. */
  public readonly stockLevel: PowertoolsFunction;

  constructor(scope: Construct, id: string, props: InventoryProps) {
    super(scope, id);
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: inventoryTable.partitionKey, type: AttributeType.STRING },
      sortKey: { name: inventoryTable.sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      ...tableSafety(props),
    });
    const eventBus: IEventBus = props.outbox.eventBus;
    // Its stack outputs (for the outbox CLI) are named after this id: it must differ from the orders outbox's.
    this.outbox = new TransactionalOutbox(this, 'InventoryOutbox', {
      table: this.table,
      eventBus,
      source: INVENTORY_SOURCE,
      ...props.outboxProps,
      ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
      ...(props.retainData === undefined ? {} : { retainData: props.retainData }),
      ...(props.functionDefaults ? { functionDefaults: props.functionDefaults } : {}),
    });

    this.consumer = new OutboxConsumer(this, 'Consumer', {
      ...props.consumer,
      outbox: props.outbox,
      subscription: inventorySubscription(props.eventSource),
      entry: fileURLToPath(new URL('../../lambdas/inventory/handler.ts', import.meta.url)),
      transactional: { outbox: this.outbox, table: this.table },
      ...(props.functionDefaults ? { functionProps: props.functionDefaults } : {}),
    });
    // Reads the reservation and the stock of an order's SKUs (BatchGetItem) before it decides.
    grantOnTable(this.table, this.consumer.function, ['dynamodb:BatchGetItem']);
    this.consumer.function.addEnvironment('INVENTORY_TABLE_NAME', this.table.tableName);

    this.stockLevel = new PowertoolsFunction(this, 'StockLevel', {
      entry: fileURLToPath(new URL('../../lambdas/inventory/stock-level-handler.ts', import.meta.url)),
      serviceName: 'inventory-stock',
      description: "Reads or sets one SKU's stock level (invoked directly)",
      ...props.functionDefaults,
    });
    // A read is a BatchGetItem of one key; a set is a PutItem of the SKU's stock record.
    grantOnTable(this.table, this.stockLevel, ['dynamodb:BatchGetItem', 'dynamodb:PutItem']);
    this.stockLevel.addEnvironment('INVENTORY_TABLE_NAME', this.table.tableName);
  }
}
