/**
 * An EventBridge subscription: a rule pattern plus its target's retry policy. The CDK construct
 * deploys each one as a rule with a Lambda target and a DLQ; the local event bus routes with the
 * same objects. Pure data, so both runtimes import it.
 */
export interface Subscription {
  /** Short name: rule/construct ids, log and queue names. */
  readonly name: string;
  /** An EventBridge event pattern (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html). */
  readonly eventPattern: Record<string, unknown>;
  /** Target retry policy: attempts after the first delivery, and the oldest event still worth delivering. */
  readonly retry: { readonly maximumRetryAttempts: number; readonly maximumEventAgeSeconds: number };
}

/** EventBridge's own maxima for a target: retry for up to 24 hours, 185 attempts. */
export const MAXIMUM_TARGET_RETRY = {
  maximumRetryAttempts: 185,
  maximumEventAgeSeconds: 24 * 60 * 60,
} as const;

/** Powertools idempotency's DynamoDB persistence layer: key `id`, TTL attribute `expiration`. */
export const IDEMPOTENCY_TABLE = { partitionKey: 'id', timeToLiveAttribute: 'expiration' } as const;
