import { randomUUID } from 'node:crypto';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { MetricName } from '../shared/metric-names';
import { logger, metrics } from '../shared/powertools';
import { applyInventoryEvent, type EventResult } from './apply-event';
import { InvalidEventError, parseDelivery } from './event-schema';
import type { ReservationStore } from './reservation-store';
import type { InventoryEvent } from './reservations';
import { UnexpectedEventError } from './reservations';

export interface InventoryConsumerDeps {
  readonly store: ReservationStore;
  /** Powertools persistence layer, e.g. `DynamoDBPersistenceLayer` on the idempotency table. */
  readonly persistenceStore: BasePersistenceLayer;
  /**
   * How long a processed eventId is remembered. Must cover the whole redelivery horizon; the
   * stack computes it from the relay's and the target's retry settings.
   */
  readonly idempotencyTtlSeconds: number;
  /**
   * Time budget of a call made without a Lambda context (the offline runtime, tests). Powertools
   * derives the in-progress lock's expiry from it, so a crashed attempt never blocks its retry.
   * @default 10000
   */
  readonly standaloneTimeoutMs?: number;
  /** @default the function's logger (POWERTOOLS_SERVICE_NAME) */
  readonly logger?: Logger;
}

/** The outcome of one delivery; `duplicate` when it was a redelivery of a processed event. */
export interface DeliveryResult extends EventResult {
  readonly duplicate: boolean;
}

/**
 * Idempotency records are keyed by this prefix and the hash of `detail.eventId`. A fixed prefix,
 * not the default function name, so that renaming or redeploying the function keeps its memory.
 */
export const IDEMPOTENCY_KEY_PREFIX = 'inventory';

/**
 * The consumer without Lambda wiring: parse the delivery, apply it once per eventId, count
 * duplicates. The deployed handler wraps it with middy; the offline runtime calls it directly.
 */
export const createInventoryConsumer = (deps: InventoryConsumerDeps) => {
  const log = deps.logger ?? logger;
  const config = new IdempotencyConfig({
    // EventBridge gives every PutEvents a new envelope id; the outbox's eventId never changes.
    eventKeyJmesPath: 'detail.eventId',
    // The same eventId with a different body is a bug upstream: fail instead of skipping it.
    payloadValidationJmesPath: 'detail',
    throwOnNoIdempotencyKey: true,
    expiresAfterSeconds: deps.idempotencyTtlSeconds,
    // Runs only when a completed record is found: this delivery is a duplicate.
    responseHook: (response) =>
      typeof response === 'object' && response !== null && !Array.isArray(response)
        ? { ...response, duplicate: true }
        : response,
  });

  const applyOnce = makeIdempotent(
    async (_delivery: unknown, event: InventoryEvent): Promise<DeliveryResult> => ({
      ...(await applyInventoryEvent(deps.store, event)),
      duplicate: false,
    }),
    {
      persistenceStore: deps.persistenceStore,
      config,
      keyPrefix: IDEMPOTENCY_KEY_PREFIX,
      dataIndexArgument: 0,
    },
  );

  return async (input: unknown, context?: Context): Promise<DeliveryResult> => {
    config.registerLambdaContext(context ?? standaloneContext(deps.standaloneTimeoutMs ?? 10_000));
    log.removeKeys(['eventId', 'orderId']);
    let result: DeliveryResult;
    try {
      const event = parseDelivery(input);
      log.appendKeys({ eventId: event.eventId, orderId: event.orderId });
      // The delivery as received is what idempotency hashes: its key and its validated body.
      result = await applyOnce(input, event);
    } catch (error) {
      throw logFailure(log, error);
    }
    // Always emitted, 0 for a first delivery, so the metric's sample count is the delivery count.
    metrics.addMetric(MetricName.DuplicateDeliveriesSkipped, MetricUnit.Count, result.duplicate ? 1 : 0);
    if (result.duplicate) {
      log.info('duplicate delivery skipped', { outcome: result.outcome, sequence: result.sequence });
    } else if (result.outcome === 'rejected' || result.outcome === 'stale') {
      log.warn(`event ${result.outcome}`, {
        outcome: result.outcome,
        sequence: result.sequence,
        reason: result.reason,
      });
    } else {
      log.info(`stock ${result.outcome}`, { outcome: result.outcome, sequence: result.sequence });
    }
    return result;
  };
};

/** A context for calls outside Lambda: only its deadline matters to the idempotency layer. */
const standaloneContext = (timeoutMs: number): Context => {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: IDEMPOTENCY_KEY_PREFIX,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${IDEMPOTENCY_KEY_PREFIX}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${IDEMPOTENCY_KEY_PREFIX}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
};

/**
 * The one place errors are classified for the log. Every error is rethrown: Lambda retries the
 * asynchronous invocation and then hands the event to the on-failure destination, so nothing
 * is dropped without a trace.
 */
const logFailure = (log: Logger, error: unknown): unknown => {
  if (error instanceof InvalidEventError) {
    log.error('invalid event rejected', { ...(error.eventId ? { eventId: error.eventId } : {}), error });
  } else if (error instanceof Error && error.name === 'IdempotencyValidationError') {
    log.error('eventId reused with a different body', { error });
  } else if (error instanceof Error && error.name === 'IdempotencyAlreadyInProgressError') {
    log.info('same event in progress in another invocation; retrying later', { error });
  } else if (error instanceof UnexpectedEventError) {
    log.error('event does not fit the order history', { error });
  } else {
    log.error('event processing failed', { error });
  }
  return error;
};
