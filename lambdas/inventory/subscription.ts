import { MAXIMUM_TARGET_RETRY, type Subscription } from 'dynamodb-outbox/runtime';
import { ORDER_CANCELLED, ORDER_PLACED } from '../orders/events';

/** Inventory reserves stock on OrderPlaced and releases it on OrderCancelled. */
export const inventorySubscription = (source: string): Subscription => ({
  name: 'inventory',
  eventPattern: { source: [source], 'detail-type': [ORDER_PLACED, ORDER_CANCELLED] },
  retry: MAXIMUM_TARGET_RETRY,
});
