import { OUTBOX_SK_PREFIX } from './keys';
import { ordersTable } from './table-definition';

/**
 * Event source mapping filter: only INSERTs of outbox items invoke the relay. Order items,
 * the relay's own MODIFYs (delivery tracking) and TTL deletions are dropped by Lambda before
 * invocation, at no cost. Deployed by the OutboxRelay construct and applied by the local
 * stream poller: one object, two runtimes.
 */
export const relayFilterPattern = {
  eventName: ['INSERT'],
  dynamodb: { Keys: { [ordersTable.sortKey]: { S: [{ prefix: OUTBOX_SK_PREFIX }] } } },
} as const;
