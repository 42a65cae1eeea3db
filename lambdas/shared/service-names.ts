/**
 * Each function's Powertools service name: the `service` key of its log lines and the `service`
 * dimension of its metrics. The stack sets POWERTOOLS_SERVICE_NAME to it; the offline runtime,
 * which runs every function in one process, gives each its own logger with it (`loggerFor`).
 * A consumer's service is its subscription's name.
 */
export const ServiceName = {
  OrdersApi: 'orders-api',
  OutboxRelay: 'outbox-relay',
  OutboxReconciler: 'outbox-reconciler',
} as const;
