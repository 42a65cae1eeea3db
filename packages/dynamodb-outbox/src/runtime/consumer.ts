import { randomUUID } from 'node:crypto';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { describeIssues, type EventEnvelope, eventEnvelopeSchema } from './envelope.js';
import { MetricName } from './metric-names.js';
import { logger, metrics } from './powertools.js';
import * as z from './zod.js';

/** An event a consumer cannot act on. It is an error, never a silent skip. */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
  constructor(
    message: string,
    /** The detail's eventId when it could be read, for the log. */
    readonly eventId?: string,
  ) {
    super(message);
  }
}

/** An EventBridge delivery of an outbox event, validated: what a consumer's handler receives. */
export interface OutboxDelivery {
  readonly source: string;
  readonly detailType: string;
  /** The outbox envelope; `sequence` orders an aggregate's events, `eventId` identifies one. */
  readonly event: EventEnvelope;
}

/** The parts of the EventBridge envelope a consumer reads; the rest is not its business. */
const deliverySchema = z.object({
  id: z.string(),
  'detail-type': z.string(),
  source: z.string(),
  detail: z.unknown(),
});

/** Validate an EventBridge delivery at the edge: the envelope, and detail-type = eventType. */
export const parseOutboxDelivery = (input: unknown): OutboxDelivery => {
  const delivery = deliverySchema.safeParse(input);
  if (!delivery.success)
    throw new InvalidEventError(`not an EventBridge event: ${describeIssues(delivery.error, 'event')}`);
  const detail = eventEnvelopeSchema.safeParse(delivery.data.detail);
  if (!detail.success)
    throw new InvalidEventError(`invalid detail: ${describeIssues(detail.error, 'detail')}`);
  if (detail.data.eventType !== delivery.data['detail-type'])
    throw new InvalidEventError(
      `detail-type ${delivery.data['detail-type']} does not match eventType ${detail.data.eventType}`,
      detail.data.eventId,
    );
  return { source: delivery.data.source, detailType: delivery.data['detail-type'], event: detail.data };
};

export interface OutboxConsumerOptions<R extends object> {
  /**
   * Idempotency records are keyed by this prefix and the hash of `detail.eventId`. A fixed name,
   * not the default function name, so that renaming or redeploying the function keeps its memory.
   */
  readonly name: string;
  /** Powertools persistence layer, e.g. `DynamoDBPersistenceLayer` on the consumer's idempotency table. */
  readonly persistenceStore: BasePersistenceLayer;
  /** How long a processed eventId is remembered; the construct derives it from the redelivery horizon. */
  readonly idempotencyTtlSeconds: number;
  /** The effect of one event, applied once per eventId. Its result is stored and returned again for duplicates. */
  readonly handle: (delivery: OutboxDelivery) => Promise<R>;
  /**
   * Time budget of a call made without a Lambda context (the offline runtime, tests). Powertools
   * derives the in-progress lock's expiry from it, so a crashed attempt never blocks its retry.
   * @default 10000
   */
  readonly standaloneTimeoutMs?: number;
  /** @default the container's logger, named by POWERTOOLS_SERVICE_NAME */
  readonly logger?: Logger;
}

export type ConsumerResult<R> = R & { readonly duplicate: boolean };

/**
 * An idempotent outbox consumer: validates the delivery, applies `handle` once per
 * `detail.eventId` (Powertools idempotency), counts duplicates. The same eventId with a different
 * detail is a bug upstream and fails instead of being skipped. Every error is rethrown: Lambda
 * retries the asynchronous invocation and then hands the event to the on-failure destination.
 */
export const createOutboxConsumer = <R extends object>(options: OutboxConsumerOptions<R>) => {
  const log = options.logger ?? logger;
  const config = new IdempotencyConfig({
    // EventBridge gives every PutEvents a new envelope id; the outbox's eventId never changes.
    eventKeyJmesPath: 'detail.eventId',
    payloadValidationJmesPath: 'detail',
    throwOnNoIdempotencyKey: true,
    expiresAfterSeconds: options.idempotencyTtlSeconds,
    // Runs only when a completed record is found: this delivery is a duplicate.
    responseHook: (response) =>
      typeof response === 'object' && response !== null && !Array.isArray(response)
        ? { ...response, duplicate: true }
        : response,
  });
  const applyOnce = makeIdempotent(
    async (_input: unknown, delivery: OutboxDelivery): Promise<ConsumerResult<R>> => ({
      ...(await options.handle(delivery)),
      duplicate: false,
    }),
    { persistenceStore: options.persistenceStore, config, keyPrefix: options.name, dataIndexArgument: 0 },
  );

  return async (input: unknown, context?: Context): Promise<ConsumerResult<R>> => {
    config.registerLambdaContext(
      context ?? standaloneContext(options.name, options.standaloneTimeoutMs ?? 10_000),
    );
    log.removeKeys(['eventId', 'aggregateId']);
    let result: ConsumerResult<R>;
    try {
      const delivery = parseOutboxDelivery(input);
      log.appendKeys({ eventId: delivery.event.eventId, aggregateId: delivery.event.aggregateId });
      // The delivery as received is what idempotency hashes: its key and its validated body.
      result = await applyOnce(input, delivery);
    } catch (error) {
      throw logFailure(log, error);
    }
    // Always emitted, 0 for a first delivery, so the metric's sample count is the delivery count.
    metrics.addMetric(MetricName.DuplicateDeliveriesSkipped, MetricUnit.Count, result.duplicate ? 1 : 0);
    if (result.duplicate) log.info('duplicate delivery skipped');
    return result;
  };
};

/** A context for calls outside Lambda: only its deadline matters to the idempotency layer. */
const standaloneContext = (name: string, timeoutMs: number): Context => {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
};

/** The one place consumer errors are classified for the log; every error is rethrown. */
const logFailure = (log: Logger, error: unknown): unknown => {
  if (error instanceof InvalidEventError) {
    log.error('invalid event rejected', { ...(error.eventId ? { eventId: error.eventId } : {}), error });
  } else if (error instanceof Error && error.name === 'IdempotencyValidationError') {
    log.error('eventId reused with a different body', { error });
  } else if (error instanceof Error && error.name === 'IdempotencyAlreadyInProgressError') {
    log.info('same event in progress in another invocation; retrying later', { error });
  } else {
    log.error('event processing failed', { error });
  }
  return error;
};
