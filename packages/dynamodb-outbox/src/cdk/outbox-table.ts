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
  type OutboxLayout,
  type SameTableLayout,
  TIME_ORDERED_TABLE_LAYOUT,
  type TimeOrderedLayout,
} from '../runtime/layout.js';
import { tableSafety } from './table-safety.js';

/** The sparse time index of a same-table `layout`, as a TableV2 global secondary index. */
export const timeIndexOf = (layout: SameTableLayout): GlobalSecondaryIndexPropsV2 => ({
  indexName: layout.timeIndex.indexName,
  partitionKey: { name: layout.timeIndex.partitionKey, type: AttributeType.STRING },
  sortKey: { name: layout.timeIndex.sortKey, type: AttributeType.STRING },
  // The reconciler republishes from the index: it needs the whole item.
  projectionType: ProjectionType.ALL,
});

/**
 * What a service's own table needs to hold a same-table outbox, to spread into its TableV2 props:
 * a stream with new images, the outbox TTL attribute and, with delivery tracking, the time index
 * by which the reconciler lists outbox items.
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
  // A time-ordered table lists itself by key: it needs no index.
  globalSecondaryIndexes:
    (options.deliveryTracking ?? true) && layout.kind === 'same-table' ? [timeIndexOf(layout)] : [],
});

/**
 * `TIME_ORDERED_TABLE_LAYOUT` with its minutes spread over `shardCount` partitions (and, after a
 * decrease, still listed up to `previousShardCount`). Errors name the prop.
 */
export const timeOrderedTableLayout = (
  props: Pick<OutboxTableProps, 'shardCount' | 'previousShardCount'>,
  construct = 'OutboxTable',
): TimeOrderedLayout => {
  const { shardCount = TIME_ORDERED_TABLE_LAYOUT.shardCount, previousShardCount } = props;
  const inRange = (value: number) => Number.isInteger(value) && value >= 1 && value <= 100;
  if (!inRange(shardCount))
    throw new Error(`${construct}: shardCount must be an integer from 1 to 100, got ${shardCount}`);
  if (previousShardCount !== undefined && !(inRange(previousShardCount) && previousShardCount > shardCount))
    throw new Error(
      `${construct}: previousShardCount is the larger shardCount a table had before it was lowered: ` +
        `an integer from ${shardCount + 1} to 100, got ${previousShardCount} (raising shardCount needs none)`,
    );
  return {
    ...TIME_ORDERED_TABLE_LAYOUT,
    shardCount,
    ...(previousShardCount === undefined ? {} : { previousShardCount }),
  };
};

export interface OutboxTableProps {
  /** Customer managed key for encryption at rest. @default the DynamoDB owned key */
  readonly encryptionKey?: IKey;
  /** Retain the table when the stack is deleted, with deletion protection. @default false */
  readonly retainData?: boolean;
  /** Partitions each minute's items are spread over, 1 to 100. @default 8 */
  readonly shardCount?: number;
  /** The shardCount before it was lowered, listed by the reconciler for the retention. @default none */
  readonly previousShardCount?: number;
}

/**
 * The dedicated outbox table (`TIME_ORDERED_TABLE_LAYOUT`): outbox items only, keyed by minute and
 * shard (`<minute>#<shard>` / `OUTBOX#<writtenAt>#…`), on-demand, with a stream of new images,
 * TTL armed at write and point-in-time recovery. The service adds one Put to it inside its own
 * transaction; the relay tracks delivery with one receipt per invocation, and the reconciler lists
 * the table by key, without an index: the cheapest delivery tracking.
 */
export class OutboxTable extends Construct {
  /** The table: stream with new images, TTL, `pk`/`sk` keyed by time. */
  public readonly table: TableV2;
  /** Its layout, for the relay, the reconciler and the writer. */
  public readonly layout: TimeOrderedLayout;

  constructor(scope: Construct, id: string, props: OutboxTableProps = {}) {
    super(scope, id);
    this.layout = timeOrderedTableLayout(props);
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: this.layout.partitionKey, type: AttributeType.STRING },
      sortKey: { name: this.layout.sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      ...outboxTableProps(this.layout),
      ...tableSafety(props),
    });
  }
}
