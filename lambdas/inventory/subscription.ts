import { MAXIMUM_TARGET_RETRY, type Subscription } from 'dynamodb-outbox/runtime';
import { ORDER_CANCELLED, ORDER_PLACED, ORDER_REJECTED } from '../orders/events';

/**
 * Inventory reserves stock on OrderPlaced and releases it when the order is cancelled or rejected
 * (a rejection at the deadline may overtake a reservation: the release compensates it).
 */
export const inventorySubscription = (source: string): Subscription => ({
  name: 'inventory',
  eventPattern: { source: [source], 'detail-type': [ORDER_PLACED, ORDER_CANCELLED, ORDER_REJECTED] },
  retry: MAXIMUM_TARGET_RETRY,
});
