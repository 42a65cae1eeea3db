import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Context } from 'aws-lambda';
import {
  type ConsumerLogger,
  type ConsumerResult,
  EventIdReusedError,
  type OutboxDelivery,
  readConsumerSettings,
  runDelivery,
} from './consumer.js';
import { type EnvMap, InvalidSettingsError } from './env-contract.js';
import type { EventEnvelope } from './envelope.js';
import { logger, traced } from './powertools.js';
import { type TransactionalConsumerSettings, transactionalConsumerSettings } from './settings.js';
import { OutboxWriter, type TransactItem } from './writer.js';

/** What one delivery does: the consumer's state change and the events it emits, committed together. */
export interface TransactionalEffect {
  /**
   * The consumer's own state change: TransactWriteItems actions in the document client's form
   * (plain JavaScript values). Their conditions are the business rules (enough stock, the order
   * still PLACED): one that fails reaches `onRejected`.
   */
  readonly writes: readonly TransactItem[];
  /**
   * Events emitted through the consumer's own outbox, in the same transaction. Full envelopes:
   * the handler chooses eventId (derive it from the delivery's, so a retried decision emits the
   * same id), aggregate and sequence.
   * @default none
   */
  readonly emit?: readonly EventEnvelope[];
  /**
   * Partition key value of the aggregate the events belong to, for an outbox in the consumer's own
   * table (same-table layout), as `OutboxWriter.transaction` takes it.
   * @default none (the dedicated, time-ordered outbox table needs none)
   */
  readonly aggregateKey?: string;
}

/** An effect and what the consumer returns for it; `result` is stored with the inbox record. */
export type TransactionalOutcome<R extends object> = TransactionalEffect & { readonly result: R };

/** The handler's writes whose condition failed, by index in `writes`, with DynamoDB's cancellation code. */
export interface EffectRejection {
  readonly failed: readonly { readonly index: number; readonly code: string; readonly message?: string }[];
}

export interface TransactionalConsumerOptions<R extends object> {
  /**
   * Inbox records are keyed by this name and `detail.eventId`. A fixed name, not the function's,
   * so that renaming or redeploying the function keeps its memory.
   */
  readonly name: string;
  /**
   * Decide the effect of one delivery, from fresh reads of the consumer's state. Called again
   * when the transaction lost a conflict with another writer of the same items.
   */
  readonly handle: (delivery: OutboxDelivery) => Promise<TransactionalOutcome<R>>;
  /**
   * A condition of the handler's own writes failed: a business outcome (not enough stock, the
   * order no longer PLACED). Answer it with another effect (emit a rejection, for instance),
   * committed with the inbox record in place of the first.
   * @default none: the invocation fails with EffectRejectedError and Lambda retries it
   */
  readonly onRejected?: (
    delivery: OutboxDelivery,
    rejection: EffectRejection,
  ) => Promise<TransactionalOutcome<R>>;
  /**
   * The consumer's own outbox (which holds the inbox too) and the inbox window.
   * @default read from the environment `OutboxConsumer` with `transactional` gives the function (OUTBOX_TRANSACTIONAL_CONSUMER_SETTINGS)
   */
  readonly settings?: TransactionalConsumerSettings;
  /**
   * The environment the settings are read from when `settings` is not given.
   * @default process.env
   */
  readonly env?: EnvMap;
  /**
   * The client the transaction is sent with (DynamoDB Local in a test, for instance).
   * @default a `DynamoDBClient` from the function's environment, traced when tracing is on
   */
  readonly dynamoDb?: DynamoDBClient;
  /** @default the container's logger, named by POWERTOOLS_SERVICE_NAME */
  readonly logger?: ConsumerLogger;
  /** The clock of the inbox record's TTL and the outbox items' write time. @default the system clock */
  readonly now?: () => Date;
}

/** The handler's writes failed a condition and nothing answered it (no `onRejected`, or its own effect failed too). */
export class EffectRejectedError extends Error {
  override readonly name = 'EffectRejectedError';
  constructor(
    message: string,
    readonly rejection: EffectRejection,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Every attempt lost a TransactionConflict; the invocation fails and Lambda retries it later. */
export class TransactionConflictError extends Error {
  override readonly name = 'TransactionConflictError';
}

/**
 * Attempts of one delivery when its transaction loses a conflict (another transaction or write on
 * the same items, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling).
 * Each attempt decides again from fresh reads; past this, Lambda's own retries take over.
 */
export const MAX_CONFLICT_ATTEMPTS = 3;

/**
 * Longest pause before the second attempt, doubled for each later one; the pause is drawn at
 * random below it ("full jitter"), so that consumers contending for one item do not collide again
 * in step (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html#Programming.Errors.RetryAndBackoff).
 */
const CONFLICT_BACKOFF_MS = 25;

/** Sort key of every inbox record: not the outbox's prefix, so the relay's filter never passes one. */
export const INBOX_SORT_KEY = 'INBOX';

/**
 * Partition key of the inbox record of `eventId` for consumer `name`. `INBOX#…` never looks like a
 * time-ordered outbox partition (`<minute>#<shard>`), so the reconciler's listing never reads one.
 */
export const inboxPartition = (name: string, eventId: string): string => `INBOX#${name}#${eventId}`;

/** What an inbox record keeps besides its key: enough to answer a duplicate and to catch a reused eventId. */
interface InboxRecord {
  readonly detailHash?: unknown;
  readonly result?: unknown;
}

/** JSON with object keys sorted, so that the same detail hashes the same whoever serialised it. */
const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );

export const detailHashOf = (event: EventEnvelope): string =>
  createHash('sha256').update(canonicalJson(event), 'utf8').digest('base64url');

/** What a consumer sets up on its first invocation and keeps for the container. */
interface Engine {
  readonly settings: TransactionalConsumerSettings;
  readonly writer: OutboxWriter;
  readonly doc: DynamoDBDocumentClient;
}

/** The outcome of one TransactWriteItems, as the consumer reads DynamoDB's cancellation reasons. */
type Commit =
  | { readonly kind: 'committed' }
  | { readonly kind: 'duplicate'; readonly record: InboxRecord }
  | { readonly kind: 'conflict' }
  | { readonly kind: 'rejected'; readonly rejection: EffectRejection };

interface CancellationReason {
  readonly Code?: string;
  readonly Message?: string;
  readonly Item?: Record<string, unknown>;
}

const cancellationReasonsOf = (error: unknown): readonly CancellationReason[] | undefined =>
  error instanceof Error && error.name === 'TransactionCanceledException'
    ? ((error as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [])
    : undefined;

/**
 * A transactional outbox consumer: the consumer's state change, the events it emits and its inbox
 * record (this eventId was processed) commit in one TransactWriteItems. A redelivery fails only
 * the inbox record's condition and is acknowledged as a duplicate with nothing written, returning
 * the result stored the first time; the same eventId with a different detail fails. A failed
 * condition of the handler's writes goes to `onRejected`; a lost conflict decides again.
 *
 * In a function deployed by `OutboxConsumer` with `transactional`, `name` and `handle` are all it
 * needs; the settings come from the environment the construct sets, read on the first invocation.
 *
 * ```ts
 * export const handler = createTransactionalConsumer({
 *   name: 'inventory',
 *   handle: async ({ event }) => ({
 *     writes: [{ Update: { TableName, Key, UpdateExpression, ConditionExpression: 'available >= :qty', ... } }],
 *     emit: [stockReserved(event)],
 *     result: { outcome: 'reserved' },
 *   }),
 *   onRejected: async ({ event }) => ({ writes: [], emit: [stockRejected(event)], result: { outcome: 'rejected' } }),
 * });
 * ```
 */
export const createTransactionalConsumer = <R extends object>(options: TransactionalConsumerOptions<R>) => {
  const log = options.logger ?? logger;
  const now = options.now ?? (() => new Date());
  let engine: Engine | undefined;
  const setUp = (): Engine => {
    const settings =
      options.settings ??
      readConsumerSettings(
        transactionalConsumerSettings,
        options.name,
        options.env,
        'OutboxConsumer with `transactional` sets it on the function it deploys; elsewhere pass `settings` to createTransactionalConsumer.',
      );
    const { layout } = settings.outbox;
    if (INBOX_SORT_KEY.startsWith(layout.sortKeyPrefix))
      throw new InvalidSettingsError(
        `Consumer ${options.name}: the outbox's sortKeyPrefix ${layout.sortKeyPrefix} would make inbox records look like outbox items`,
      );
    const client = options.dynamoDb ?? traced(new DynamoDBClient({}));
    return {
      settings,
      writer: new OutboxWriter(settings.outbox, { now }),
      // A result with an undefined field is stored without it, as JSON would return it.
      doc: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
    };
  };

  /** The inbox record's Put: conditional on no live record for this eventId. */
  const inboxPut = ({ settings }: Engine, delivery: OutboxDelivery, result: R): TransactItem => {
    const { tableName, layout } = settings.outbox;
    const at = now();
    return {
      Put: {
        TableName: tableName,
        Item: {
          [layout.partitionKey]: inboxPartition(options.name, delivery.event.eventId),
          [layout.sortKey]: INBOX_SORT_KEY,
          consumer: options.name,
          eventId: delivery.event.eventId,
          detailHash: detailHashOf(delivery.event),
          result,
          processedAt: at.toISOString(),
          [layout.timeToLiveAttribute]: Math.floor(at.getTime() / 1000) + settings.inboxTtlSeconds,
        },
        // TTL deletes an expired record only within days: past its TTL it is gone for the inbox too.
        ConditionExpression: 'attribute_not_exists(#pk) OR #expiresAt <= :now',
        ExpressionAttributeNames: { '#pk': layout.partitionKey, '#expiresAt': layout.timeToLiveAttribute },
        ExpressionAttributeValues: { ':now': Math.floor(at.getTime() / 1000) },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  };

  /** One TransactWriteItems: inbox record, the handler's writes, the emitted events' outbox items. */
  const commit = async (
    on: Engine,
    delivery: OutboxDelivery,
    outcome: TransactionalOutcome<R>,
  ): Promise<Commit> => {
    const { writer, doc } = on;
    if (typeof outcome.result !== 'object' || outcome.result === null || Array.isArray(outcome.result))
      throw new TypeError(`Consumer ${options.name}: the handler's result must be an object`);
    // Checked against the transaction limits before the call: nothing is written when they are exceeded.
    const items = writer.transaction(
      [inboxPut(on, delivery, outcome.result), ...outcome.writes],
      outcome.emit ?? [],
      outcome.aggregateKey === undefined ? {} : { aggregateKey: outcome.aggregateKey },
    );
    try {
      await doc.send(new TransactWriteCommand({ TransactItems: items }));
      return { kind: 'committed' };
    } catch (error) {
      const reasons = cancellationReasonsOf(error);
      if (reasons === undefined) throw error;
      const [inbox, ...rest] = reasons;
      if (inbox?.Code === 'ConditionalCheckFailed')
        return {
          kind: 'duplicate',
          record: inbox.Item ? (unmarshall(inbox.Item as never) as InboxRecord) : {},
        };
      if (reasons.some((reason) => reason.Code === 'TransactionConflict')) return { kind: 'conflict' };
      const ok = (reason: CancellationReason) => (reason.Code ?? 'None') === 'None';
      const writes = rest.slice(0, outcome.writes.length);
      const failed = writes.flatMap((reason, index) =>
        reason.Code === 'ConditionalCheckFailed'
          ? [{ index, code: reason.Code, ...(reason.Message ? { message: reason.Message } : {}) }]
          : [],
      );
      // Anything else (an outbox item's own condition, a validation error, throttling) is not the
      // handler's business: the invocation fails and Lambda retries.
      const unexpected =
        writes.some((reason) => !ok(reason) && reason.Code !== 'ConditionalCheckFailed') ||
        !rest.slice(outcome.writes.length).every(ok);
      if (failed.length === 0 || unexpected) throw error;
      return { kind: 'rejected', rejection: { failed } };
    }
  };

  const duplicateOf = (delivery: OutboxDelivery, record: InboxRecord): ConsumerResult<R> => {
    if (record.detailHash !== undefined && record.detailHash !== detailHashOf(delivery.event))
      throw new EventIdReusedError(
        `eventId ${delivery.event.eventId} was processed before with a different detail; consumer ${options.name} will not apply it`,
      );
    const stored =
      typeof record.result === 'object' && record.result !== null ? (record.result as R) : ({} as R);
    return { ...stored, duplicate: true };
  };

  const apply = async (delivery: OutboxDelivery): Promise<ConsumerResult<R>> => {
    engine ??= setUp();
    const on = engine;
    for (let attempt = 1; attempt <= MAX_CONFLICT_ATTEMPTS; attempt++) {
      const outcome = await options.handle(delivery);
      let committed = await commit(on, delivery, outcome);
      let result = outcome.result;
      if (committed.kind === 'rejected') {
        const { rejection } = committed;
        if (options.onRejected === undefined)
          throw new EffectRejectedError(
            `Consumer ${options.name}: a condition of the handler's writes failed (${describeRejection(rejection)}) and no onRejected answers it`,
            rejection,
          );
        const answer = await options.onRejected(delivery, rejection);
        committed = await commit(on, delivery, answer);
        result = answer.result;
        if (committed.kind === 'rejected')
          throw new EffectRejectedError(
            `Consumer ${options.name}: the effect of onRejected was rejected too (${describeRejection(committed.rejection)})`,
            committed.rejection,
          );
        log.info('effect rejected; onRejected answered', { failed: rejection.failed });
      }
      if (committed.kind === 'committed') return { ...result, duplicate: false };
      if (committed.kind === 'duplicate') return duplicateOf(delivery, committed.record);
      if (attempt < MAX_CONFLICT_ATTEMPTS) {
        log.info('transaction conflict; deciding again', { attempt });
        await delay(Math.random() * CONFLICT_BACKOFF_MS * 2 ** (attempt - 1));
      }
    }
    throw new TransactionConflictError(
      `Consumer ${options.name}: ${MAX_CONFLICT_ATTEMPTS} attempts lost a TransactionConflict; Lambda retries the event`,
    );
  };

  return (input: unknown, _context?: Context): Promise<ConsumerResult<R>> => runDelivery(log, input, apply);
};

const describeRejection = (rejection: EffectRejection): string =>
  rejection.failed.map(({ index, code }) => `write ${index}: ${code}`).join(', ');
