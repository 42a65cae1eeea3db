/**
 * Inventory's table, as pure data: the CDK construct and the offline runtime both build it from
 * this object. Inventory owns its own table and key space; it never reads or writes the orders
 * table. Its outbox (and its consumer's inbox) live in the outbox construct's own table.
 */
export const inventoryTable = {
  partitionKey: 'PK',
  sortKey: 'SK',
} as const;

/** Per-order record: the reservation's state and the highest order event sequence applied to it. */
export const reservationKey = (orderId: string) => ({ PK: `ORDER#${orderId}`, SK: 'RESERVATION' });

/** Per-SKU record: the units `available`, taken by reservations and given back by releases. */
export const stockKey = (sku: string) => ({ PK: `SKU#${sku}`, SK: 'STOCK' });
