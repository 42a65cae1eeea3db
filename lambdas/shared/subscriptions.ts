import { ORDER_CANCELLED, ORDER_PLACED } from './outbox-event';

/**
 * An EventBridge subscription: a rule pattern plus its target's retry policy. The CDK stack
 * deploys each one as a rule with a Lambda target and a DLQ; the local event bus routes with
 * the same objects. Pure data, so both runtimes import it.
 */
export interface Subscription {
  /** Short name: rule/construct ids, log and queue names. */
  readonly name: string;
  /** An EventBridge event pattern (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html). */
  readonly eventPattern: Record<string, unknown>;
  /** Target retry policy: attempts after the first delivery, and the oldest event still worth delivering. */
  readonly retry: { readonly maximumRetryAttempts: number; readonly maximumEventAgeSeconds: number };
}

/** Inventory reserves stock on OrderPlaced and releases it on OrderCancelled. */
export const inventorySubscription = (source: string): Subscription => ({
  name: 'inventory',
  eventPattern: { source: [source], 'detail-type': [ORDER_PLACED, ORDER_CANCELLED] },
  // EventBridge's own maxima: retry for up to 24 hours, 185 attempts.
  retry: { maximumRetryAttempts: 185, maximumEventAgeSeconds: 24 * 60 * 60 },
});
