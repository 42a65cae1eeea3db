/**
 * Inventory's tables, as pure data: the CDK constructs and the offline runtime both build them
 * from these objects. Inventory owns its own table and key space; it never reads or writes the
 * orders table.
 */
export const inventoryTable = {
  partitionKey: 'PK',
  sortKey: 'SK',
} as const;

/** Per-order record: the reservation state and the highest event sequence applied to it. */
export const reservationKey = (orderId: string) => ({ PK: `ORDER#${orderId}`, SK: 'RESERVATION' });

const SKU_PK_PREFIX = 'SKU#';

/**
 * One item per (sku, order): every reservation of a sku lives in the sku's partition, and no two
 * orders ever write the same item, so concurrent orders of a popular sku never conflict.
 */
export const skuReservationKey = (sku: string, orderId: string) => ({
  PK: `${SKU_PK_PREFIX}${sku}`,
  SK: `ORDER#${orderId}`,
});

export const skuPartition = (sku: string): string => `${SKU_PK_PREFIX}${sku}`;
