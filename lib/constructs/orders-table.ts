import { AttributeType, Billing, ProjectionType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { outboxTableProps, tableSafety } from 'dynamodb-outbox';
import { ordersOutboxLayout, ordersTable, placedOrdersIndex } from '../../lambdas/orders/table';

export interface OrdersTableProps {
  /**
   * Customer managed key for encryption at rest.
   * @default an AWS owned key
   */
  readonly encryptionKey?: IKey;
  /**
   * Retain the table (and its data) when the stack is deleted, and turn on deletion protection.
   * @default false
   */
  readonly retainData?: boolean;
  /** Holds outbox items beside the orders, tracked or not (the time index the reconciler lists them by). @default true */
  readonly deliveryTracking?: boolean;
}

/** The single table holding orders and their outbox events (same-table outbox layout). */
export class OrdersTable extends Construct {
  public readonly table: TableV2;

  constructor(scope: Construct, id: string, props: OrdersTableProps = {}) {
    super(scope, id);
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: ordersTable.partitionKey, type: AttributeType.STRING },
      sortKey: { name: ordersTable.sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      ...outboxTableProps(ordersOutboxLayout, props),
      ...tableSafety(props),
    });
    // The order saga's sparse index of PLACED orders by placement time, for the deadline sweeper.
    this.table.addGlobalSecondaryIndex({
      indexName: placedOrdersIndex.indexName,
      partitionKey: { name: placedOrdersIndex.partitionKey, type: AttributeType.STRING },
      sortKey: { name: placedOrdersIndex.sortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });
  }
}
