import { randomUUID } from 'node:crypto';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { type ConsumerSettings, consumerSettings } from './consumer-settings.js';
import { type EnvMap, InvalidSettingsError } from './env-contract.js';
import { describeIssues, type EventEnvelope, eventEnvelopeSchema } from './envelope.js';
import { MetricName } from './metric-names.js';
import { logger, metrics, traced } from './powertools.js';
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

/**
 * An eventId seen before with a different detail: a bug upstream (two events under one id), never
 * a duplicate to skip. (Powertools' idempotency reports the same as IdempotencyValidationError.)
 */
export class EventIdReusedError extends Error {
  override readonly name = 'EventIdReusedError';
}

/** An EventBridge delivery of an outbox event, validated: what a consumer's handler receives. */
export interface OutboxDelivery {
  /** The event's `source`: the producing outbox's. */
  readonly source: string;
  /** The event's `detail-type`, always equal to `event.eventType`. */
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

/**
 * A Powertools idempotency persistence layer, described by the methods Powertools' idempotency
 * handler calls on it. A structural type on purpose: Powertools' classes carry `#private` members,
 * so an app whose own copy of Powertools differs from the library's could not pass its
 * `DynamoDBPersistenceLayer` where the library's class type is expected (TS2741). Any Powertools
 * persistence layer (DynamoDB, cache, or a subclass of `BasePersistenceLayer`) is one.
 */
export interface IdempotencyPersistence {
  configure(options: object): void;
  saveInProgress(data: unknown, remainingTimeInMillis?: number): Promise<void>;
  saveSuccess(data: unknown, result: unknown): Promise<void>;
  deleteRecord(data: unknown): Promise<void>;
  getRecord(data: unknown): Promise<unknown>;
  processExistingRecord(storedDataRecord: unknown, processedData: unknown): unknown;
}

/**
 * The logger calls a consumer makes. Powertools' `Logger` is one, from any copy of Powertools.
 */
export interface ConsumerLogger {
  info(message: string, ...attributes: Record<string, unknown>[]): void;
  error(message: string, ...attributes: Record<string, unknown>[]): void;
  appendKeys(attributes: Record<string, unknown>): void;
  removeKeys(keys: string[]): void;
}

export interface OutboxConsumerOptions<R extends object> {
  /**
   * Idempotency records are keyed by this prefix and the hash of `detail.eventId`. A fixed name,
   * not the default function name, so that renaming or redeploying the function keeps its memory.
   */
  readonly name: string;
  /** The effect of one event, applied once per eventId. Its result is stored and returned again for duplicates. */
  readonly handle: (delivery: OutboxDelivery) => Promise<R>;
  /**
   * The idempotency table and window.
   * @default read from the environment `OutboxConsumer` gives the function (OUTBOX_CONSUMER_SETTINGS)
   */
  readonly settings?: ConsumerSettings;
  /**
   * The environment the settings are read from when `settings` is not given.
   * @default process.env
   */
  readonly env?: EnvMap;
  /**
   * Where processed eventIds are remembered.
   * @default a Powertools `DynamoDBPersistenceLayer` on the settings' idempotency table, through `dynamoDb`
   */
  readonly persistenceStore?: IdempotencyPersistence;
  /**
   * The client of the default persistence layer (DynamoDB Local in a test, for instance).
   * @default a `DynamoDBClient` from the function's environment, traced when tracing is on
   */
  readonly dynamoDb?: DynamoDBClient;
  /**
   * How long a processed eventId is remembered.
   * @default the settings' idempotencyTtlSeconds, which the construct derives from the redelivery horizon
   */
  readonly idempotencyTtlSeconds?: number;
  /**
   * Time budget of a call made without a Lambda context (the offline runtime, tests). Powertools
   * derives the in-progress lock's expiry from it, so a crashed attempt never blocks its retry.
   * @default 10000
   */
  readonly standaloneTimeoutMs?: number;
  /** @default the container's logger, named by POWERTOOLS_SERVICE_NAME */
  readonly logger?: ConsumerLogger;
}

export type ConsumerResult<R> = R & { readonly duplicate: boolean };

/** What an invocation needs beyond the event; built on the first one and kept for the container. */
interface Idempotency<R> {
  readonly config: IdempotencyConfig;
  readonly applyOnce: (input: unknown, delivery: OutboxDelivery) => Promise<ConsumerResult<R>>;
}

/**
 * An idempotent outbox consumer: validates the delivery, applies `handle` once per
 * `detail.eventId` (Powertools idempotency), counts duplicates. The same eventId with a different
 * detail is a bug upstream and fails instead of being skipped. Every error is rethrown: Lambda
 * retries the asynchronous invocation and then hands the event to the on-failure destination.
 *
 * In a function deployed by `OutboxConsumer`, `name` and `handle` are all it needs:
 * `export const handler = createOutboxConsumer({ name: 'notifier', handle: async ({ event }) => ({ ... }) })`.
 * The idempotency table and window come from the environment the construct sets; the client and
 * the persistence layer are created on the first invocation and kept for the container, so a
 * module that only imports the handler needs no environment.
 */
export const createOutboxConsumer = <R extends object>(options: OutboxConsumerOptions<R>) => {
  const log = options.logger ?? logger;
  let idempotency: Idempotency<R> | undefined;
  const setUp = (): Idempotency<R> => {
    // The environment is read only for what the options leave out.
    let settings = options.settings;
    const setting = (): ConsumerSettings => {
      settings ??= readConsumerSettings(
        consumerSettings,
        options.name,
        options.env,
        'OutboxConsumer sets it on the function it deploys; elsewhere pass `settings` (or `persistenceStore` and `idempotencyTtlSeconds`) to createOutboxConsumer.',
      );
      return settings;
    };
    const config = new IdempotencyConfig({
      // EventBridge gives every PutEvents a new envelope id; the outbox's eventId never changes.
      eventKeyJmesPath: 'detail.eventId',
      payloadValidationJmesPath: 'detail',
      throwOnNoIdempotencyKey: true,
      expiresAfterSeconds: options.idempotencyTtlSeconds ?? setting().idempotencyTtlSeconds,
      // Runs only when a completed record is found: this delivery is a duplicate.
      responseHook: (response) =>
        typeof response === 'object' && response !== null && !Array.isArray(response)
          ? { ...response, duplicate: true }
          : response,
    });
    const persistenceStore =
      options.persistenceStore ??
      new DynamoDBPersistenceLayer({
        tableName: setting().idempotencyTableName,
        awsSdkV3Client: options.dynamoDb ?? traced(new DynamoDBClient({})),
      });
    const applyOnce = makeIdempotent(
      async (_input: unknown, delivery: OutboxDelivery): Promise<ConsumerResult<R>> => ({
        ...(await options.handle(delivery)),
        duplicate: false,
      }),
      {
        // Powertools calls only the methods IdempotencyPersistence names; the cast crosses from the
        // structural type to the class type of the library's own copy of Powertools.
        persistenceStore: persistenceStore as unknown as BasePersistenceLayer,
        config,
        keyPrefix: options.name,
        dataIndexArgument: 0,
      },
    );
    return { config, applyOnce };
  };

  return (input: unknown, context?: Context): Promise<ConsumerResult<R>> =>
    runDelivery(log, input, (delivery) => {
      idempotency ??= setUp();
      idempotency.config.registerLambdaContext(
        context ?? standaloneContext(options.name, options.standaloneTimeoutMs ?? 10_000),
      );
      // The delivery as received is what idempotency hashes: its key and its validated body.
      return idempotency.applyOnce(input, delivery);
    });
};

/**
 * The frame every outbox consumer runs a delivery in: the delivery validated at the edge, its
 * eventId and aggregateId as log keys, one classification of failures (every error is rethrown:
 * Lambda retries, then hands the event to the on-failure destination), and the duplicate metric.
 */
export const runDelivery = async <R extends object>(
  log: ConsumerLogger,
  input: unknown,
  apply: (delivery: OutboxDelivery) => Promise<ConsumerResult<R>>,
): Promise<ConsumerResult<R>> => {
  log.removeKeys(['eventId', 'aggregateId']);
  let result: ConsumerResult<R>;
  try {
    const delivery = parseOutboxDelivery(input);
    log.appendKeys({ eventId: delivery.event.eventId, aggregateId: delivery.event.aggregateId });
    result = await apply(delivery);
  } catch (error) {
    throw logFailure(log, error);
  }
  // Always emitted, 0 for a first delivery, so the metric's sample count is the delivery count.
  metrics.addMetric(MetricName.DuplicateDeliveriesSkipped, MetricUnit.Count, result.duplicate ? 1 : 0);
  if (result.duplicate) log.info('duplicate delivery skipped');
  return result;
};

/**
 * A consumer's settings from the environment its construct sets, or an error that names the
 * variable, who sets it and, in `elsewhere`, what to pass instead outside such a function.
 */
export const readConsumerSettings = <S>(
  contract: { fromEnv(env?: EnvMap): S },
  name: string,
  env: EnvMap | undefined,
  elsewhere: string,
): S => {
  try {
    return contract.fromEnv(env);
  } catch (error) {
    if (!(error instanceof InvalidSettingsError)) throw error;
    throw new InvalidSettingsError(`Consumer ${name}: ${error.message}. ${elsewhere}`);
  }
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
const logFailure = (log: ConsumerLogger, error: unknown): unknown => {
  if (error instanceof InvalidEventError) {
    log.error('invalid event rejected', { ...(error.eventId ? { eventId: error.eventId } : {}), error });
  } else if (
    error instanceof EventIdReusedError ||
    (error instanceof Error && error.name === 'IdempotencyValidationError')
  ) {
    log.error('eventId reused with a different body', { error });
  } else if (error instanceof Error && error.name === 'IdempotencyAlreadyInProgressError') {
    log.info('same event in progress in another invocation; retrying later', { error });
  } else {
    log.error('event processing failed', { error });
  }
  return error;
};
