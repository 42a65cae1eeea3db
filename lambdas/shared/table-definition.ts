/**
 * The one description of the orders table. The CDK stack and the offline runtime both build the
 * table from this object, so the table you test against is the table you deploy.
 * Pure data: importing it must not pull the CDK or an SDK client into a Lambda bundle.
 */
export const ordersTable = {
  partitionKey: 'PK',
  sortKey: 'SK',
  /** DynamoDB TTL attribute (epoch seconds). Outbox items only: orders are never expired. */
  timeToLiveAttribute: 'expiresAt',
  /** The relay needs the item as written; the old image is never used. */
  streamViewType: 'NEW_IMAGE',
  /**
   * Sparse index of outbox items not yet published (delivery tracking). Only unpublished items
   * carry `pendingShard`, so the index holds exactly the backlog. The key is spread over
   * `pendingShardCount` values so that a burst of writes never lands on one hot partition.
   */
  pendingIndex: {
    indexName: 'pending-outbox',
    partitionKey: 'pendingShard',
    sortKey: 'occurredAt',
  },
  pendingShardCount: 8,
} as const;

export type OrdersTableDefinition = typeof ordersTable;
