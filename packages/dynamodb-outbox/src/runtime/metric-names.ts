/**
 * CloudWatch metric names (EMF, namespace from POWERTOOLS_METRICS_NAMESPACE). The functions emit
 * them and the monitoring construct alarms and charts on them: one list, so the two never drift.
 */
export const MetricName = {
  /** Relay and reconciler: events accepted by EventBridge. Count. */
  EventsPublished: 'EventsPublished',
  /** Relay: entries EventBridge rejected with a retryable error, or calls that failed. Count. */
  PublishFailures: 'PublishFailures',
  /** Relay: records that can never be published, sent to the poison queue. Count. */
  PoisonEvents: 'PoisonEvents',
  /** Relay: records of a retried batch left out because they were published or parked before. Count. */
  EventsSkipped: 'EventsSkipped',
  /** Relay: publish time minus the event's occurredAt. Milliseconds. */
  RelayLag: 'RelayLag',
  /** Consumers: deliveries skipped because the eventId was already processed. Count. */
  DuplicateDeliveriesSkipped: 'DuplicateDeliveriesSkipped',
  /** Reconciler: pending events found older than the threshold and republished. Count. */
  ReconcilerRepublished: 'ReconcilerRepublished',
  /** Reconciler: events that failed retryably and wait for their next attempt, after a run. Count. */
  ReconcilerStuckEvents: 'ReconcilerStuckEvents',
  /** Reconciler: stuck events parked on the poison queue after failing on every run allowed. Count. */
  ReconcilerParkedAfterRetries: 'ReconcilerParkedAfterRetries',
} as const;

export type MetricName = (typeof MetricName)[keyof typeof MetricName];
