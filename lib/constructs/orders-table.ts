import {
  AttributeType,
  Billing,
  type ITableV2,
  ProjectionType,
  StreamViewType,
  TableV2,
} from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { ordersTable } from '../../lambdas/shared/table-definition';
import { tableSafety } from './table-safety';

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
}

/** The single table holding orders and their outbox events, built from `ordersTable`. */
export class OrdersTable extends Construct {
  public readonly table: ITableV2;

  constructor(scope: Construct, id: string, props: OrdersTableProps = {}) {
    super(scope, id);
    const def = ordersTable;
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: def.partitionKey, type: AttributeType.STRING },
      sortKey: { name: def.sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      dynamoStream: StreamViewType[def.streamViewType],
      timeToLiveAttribute: def.timeToLiveAttribute,
      ...tableSafety(props),
      globalSecondaryIndexes: [
        {
          indexName: def.pendingIndex.indexName,
          partitionKey: { name: def.pendingIndex.partitionKey, type: AttributeType.STRING },
          sortKey: { name: def.pendingIndex.sortKey, type: AttributeType.STRING },
          projectionType: ProjectionType.ALL,
        },
      ],
    });
  }
}
