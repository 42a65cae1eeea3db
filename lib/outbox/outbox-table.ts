import {
  AttributeType,
  Billing,
  type GlobalSecondaryIndexPropsV2,
  ProjectionType,
  StreamViewType,
  TableV2,
} from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import {
  DEDICATED_TABLE_LAYOUT,
  type OutboxLayout,
  PENDING_INDEX_SORT_KEY,
  TIME_ORDERED_TABLE_LAYOUT,
  tracksWithReceipts,
} from '../../lambdas/outbox/layout';
import { tableSafety } from './table-safety';

/** The sparse pending index of `layout`, as a TableV2 global secondary index. */
export const pendingIndexOf = (layout: OutboxLayout): GlobalSecondaryIndexPropsV2 => ({
  indexName: layout.pendingIndex.indexName,
  partitionKey: { name: layout.pendingIndex.shardAttribute, type: AttributeType.STRING },
  sortKey: { name: PENDING_INDEX_SORT_KEY, type: AttributeType.STRING },
  // The reconciler republishes from the index: it needs the whole item.
  projectionType: ProjectionType.ALL,
});

/**
 * What a service's own table needs to hold a same-table outbox, to spread into its TableV2 props:
 * a stream with new images, the outbox TTL attribute and, with delivery tracking, the pending index.
 *
 * ```ts
 * new TableV2(this, 'Table', { partitionKey, sortKey, ...outboxTableProps(layout) });
 * ```
 */
export const outboxTableProps = (
  layout: OutboxLayout,
  options: { readonly deliveryTracking?: boolean } = {},
) => ({
  dynamoStream: StreamViewType.NEW_IMAGE,
  timeToLiveAttribute: layout.timeToLiveAttribute,
  // A time-ordered table lists itself by key: receipts need no index.
  globalSecondaryIndexes:
    (options.deliveryTracking ?? true) && !tracksWithReceipts(layout) ? [pendingIndexOf(layout)] : [],
});

export interface OutboxTableProps {
  /** With delivery tracking, the table carries the pending index. @default true */
  readonly deliveryTracking?: boolean;
  /** Customer managed key for encryption at rest. @default the DynamoDB owned key */
  readonly encryptionKey?: IKey;
  /** Retain the table when the stack is deleted, with deletion protection. @default false */
  readonly retainData?: boolean;
  /**
   * How items are keyed. `time-ordered`: by minute and shard (`TIME_ORDERED_TABLE_LAYOUT`), tracked
   * with one receipt per relay invocation and listed by the reconciler without an index, the
   * cheapest delivery tracking. `aggregate`: by aggregate (`DEDICATED_TABLE_LAYOUT`), tracked with a
   * mark per event on a pending index.
   * @default 'aggregate'
   */
  readonly keying?: 'aggregate' | 'time-ordered';
}

/**
 * A dedicated outbox table (`DEDICATED_TABLE_LAYOUT`): outbox items only, keyed
 * `<aggregateType>#<aggregateId>` / `OUTBOX#<sequence>`, on-demand, with a stream of new images,
 * TTL and point-in-time recovery. The service adds one Put to it inside its own transaction.
 */
export class OutboxTable extends Construct {
  public readonly table: TableV2;
  public readonly layout: OutboxLayout;

  constructor(scope: Construct, id: string, props: OutboxTableProps = {}) {
    super(scope, id);
    this.layout = props.keying === 'time-ordered' ? TIME_ORDERED_TABLE_LAYOUT : DEDICATED_TABLE_LAYOUT;
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: this.layout.partitionKey, type: AttributeType.STRING },
      sortKey: { name: this.layout.sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      ...outboxTableProps(this.layout, props),
      ...tableSafety(props),
    });
  }
}
