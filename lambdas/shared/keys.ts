/** Key layout of the single table: an order and its outbox events share one partition. */
export const ORDER_PK_PREFIX = 'ORDER#';
export const ORDER_SK = 'ORDER';
export const OUTBOX_SK_PREFIX = 'OUTBOX#';
/** Zero-padded so that outbox items sort by sequence within the partition. */
const SEQUENCE_DIGITS = 10;

export const orderKey = (orderId: string) => ({ PK: `${ORDER_PK_PREFIX}${orderId}`, SK: ORDER_SK });

/** The order id in an order partition key, for logs: undefined for a key of any other shape. */
export const orderIdFromPk = (pk: string | undefined): string | undefined =>
  pk?.startsWith(ORDER_PK_PREFIX) ? pk.slice(ORDER_PK_PREFIX.length) : undefined;

export const outboxKey = (orderId: string, sequence: number) => ({
  PK: `${ORDER_PK_PREFIX}${orderId}`,
  SK: `${OUTBOX_SK_PREFIX}${String(sequence).padStart(SEQUENCE_DIGITS, '0')}`,
});

/** Pending-index shard for an event: stable per event, spread evenly over `shardCount` keys. */
export const pendingShardFor = (eventId: string, shardCount: number): string => {
  let hash = 0;
  for (let i = 0; i < eventId.length; i++) hash = (hash * 31 + eventId.charCodeAt(i)) >>> 0;
  return `PENDING#${hash % shardCount}`;
};

export const pendingShards = (shardCount: number): string[] =>
  Array.from({ length: shardCount }, (_, i) => `PENDING#${i}`);
