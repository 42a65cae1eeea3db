/**
 * Order ids are ULIDs: 26 characters of Crockford base32, the first one 0–7 (128 bits). A path
 * parameter must match this exactly before it becomes part of a key, so no caller-supplied `#`
 * or other separator can address an item that is not an order.
 */
export const ORDER_ID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

export const isOrderId = (value: string): boolean => ORDER_ID_PATTERN.test(value);
