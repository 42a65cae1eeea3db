/**
 * The Powertools service names of the outbox's own functions: the `service` key of their log
 * lines and the `service` dimension of their metrics. The relay and reconciler constructs default
 * POWERTOOLS_SERVICE_NAME to them. A service names its own functions in its own folder; a
 * consumer's service is its subscription's name, as the OutboxConsumer construct sets it.
 */
export const OutboxServiceName = {
  Relay: 'outbox-relay',
  Reconciler: 'outbox-reconciler',
} as const;
