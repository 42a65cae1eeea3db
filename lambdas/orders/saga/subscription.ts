import { MAXIMUM_TARGET_RETRY, type Subscription } from 'dynamodb-outbox/runtime';
import { STOCK_REJECTED, STOCK_RESERVED } from '../../inventory/events';

/** The orders service moves an order on when inventory answers it (StockReleased needs nothing here). */
export const stockAnswersSubscription = (source: string): Subscription => ({
  name: 'order-answers',
  eventPattern: { source: [source], 'detail-type': [STOCK_RESERVED, STOCK_REJECTED] },
  retry: MAXIMUM_TARGET_RETRY,
});
