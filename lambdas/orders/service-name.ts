/**
 * The orders API's Powertools service name: the `service` key of its log lines and the `service`
 * dimension of its metrics (the OrdersApi construct sets POWERTOOLS_SERVICE_NAME to it).
 */
export const ORDERS_API_SERVICE_NAME = 'orders-api';
