import { TRANSACTION_LIMITS } from 'dynamodb-outbox/runtime';

/**
 * Inventory answers an order in one transaction: the consumer's inbox record, the order's
 * reservation record, one stock update per distinct SKU and the answer's outbox item. So an order
 * can name at most this many distinct SKUs: the orders API refuses more at the edge, and inventory
 * rejects more (`too-many-lines`) from any other producer.
 */
export const MAX_DISTINCT_SKUS = TRANSACTION_LIMITS.maxItems - 3;
