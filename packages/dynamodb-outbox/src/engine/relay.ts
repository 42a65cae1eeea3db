import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { describeKey, type OutboxKey, type OutboxLayout, outboxKeyOfStreamKeys } from '../runtime/layout.js';
import { MetricName } from '../runtime/metric-names.js';
import { type OutboxRecord, parseOutboxImage } from '../runtime/outbox-item.js';
import { logger as sharedLogger, metrics as sharedMetrics } from '../runtime/powertools.js';
import { type DeliveryTracker, type MarkResult, trackedOfPoison } from './delivery-tracking.js';
import type { PoisonQueue, PoisonRecord, PoisonSendResult, StreamPosition } from './poison-queue.js';
import { PublishFailureLog } from './publish-failures.js';
import type { LogSink, MetricsSink, OutboxPublisher, PublishResult } from './publisher.js';
import { HandedPositions, SettledMemory } from './settled-memory.js';

/** Error code of a stream record that is an outbox INSERT but not a valid outbox item. */
export const MALFORMED_ITEM = 'MalformedItem';

export interface RelayDeps {
  readonly layout: OutboxLayout;
  readonly publisher: Pick<OutboxPublisher, 'publish'>;
  readonly poisonQueue: Pick<PoisonQueue, 'send'>;
  /** Delivery tracking; undefined when it is off (the write path armed the TTL). */
  readonly tracker: DeliveryTracker | undefined;
  readonly metrics?: MetricsSink;
  readonly logger?: LogSink;
  readonly now?: () => Date;
  /** What this container remembers of settled items. @default a SettledMemory of DEFAULT_SETTLED_MEMORY_SIZE */
  readonly memory?: SettledMemory;
}

/** A record of the batch, by its position in `event.Records`. */
interface At<T> {
  readonly position: number;
  readonly value: T;
}

export interface ClassifiedBatch {
  /** Outbox INSERTs that parse as outbox items: to publish. */
  readonly candidates: At<OutboxRecord>[];
  /** Outbox INSERTs that can never be published: to park. */
  readonly malformed: At<PoisonRecord>[];
  /** Records that are not outbox INSERTs (the filter should have dropped them). */
  readonly ignored: number;
}

const streamPosition = (record: DynamoDBRecord): StreamPosition | undefined => {
  const sequenceNumber = record.dynamodb?.SequenceNumber;
  if (record.eventID === undefined || sequenceNumber === undefined) return undefined;
  return {
    eventID: record.eventID,
    sequenceNumber,
    ...(record.eventSourceARN ? { eventSourceARN: record.eventSourceARN } : {}),
    ...(record.dynamodb?.ApproximateCreationDateTime === undefined
      ? {}
      : { approximateCreationDateTime: record.dynamodb.ApproximateCreationDateTime }),
  };
};

/**
 * Step 1, pure: which records are outbox INSERTs, and which of those are valid outbox items. The
 * mapping's filter already drops the rest; checked again so that a missing or changed filter can
 * never turn an aggregate update or a TTL deletion into an event.
 */
export const classify = (layout: OutboxLayout, records: readonly DynamoDBRecord[]): ClassifiedBatch => {
  const candidates: At<OutboxRecord>[] = [];
  const malformed: At<PoisonRecord>[] = [];
  let ignored = 0;
  records.forEach((record, position) => {
    const key = outboxKeyOfStreamKeys(layout, record.dynamodb?.Keys);
    if (record.eventName !== 'INSERT' || key === undefined) {
      ignored++;
      return;
    }
    const image = record.dynamodb?.NewImage as Record<string, unknown> | undefined;
    const parsed = image === undefined ? undefined : parseOutboxImage(layout, image);
    if (parsed?.ok) {
      candidates.push({ position, value: parsed.record });
      return;
    }
    malformed.push({
      position,
      value: {
        errorCode: MALFORMED_ITEM,
        reason: parsed ? parsed.reason : 'INSERT without NewImage',
        key,
        ...(image ? { image } : {}),
        stream: streamPosition(record),
      },
    });
  });
  return { candidates, malformed, ignored };
};

export interface SkipResult {
  /** The batch left to publish and park. */
  readonly batch: ClassifiedBatch;
  /** Records settled before (accepted by EventBridge, or parked): done, not sent again. */
  readonly skipped: number;
  /** Keys asked of delivery tracking, and of those how many could not be read. */
  readonly lookedUp: number;
  readonly unread: number;
}

/**
 * Step 2: leave out what was settled before. A partial batch response names only the first record
 * to retry, so Lambda hands back every record after it too, and those EventBridge accepted would
 * be published again (a retried batch after a crash or timeout, likewise). This container's
 * memory knows what it published or parked; with delivery tracking, records it does not know are
 * looked up in the receipts (one Query per minute they were written in) only when they may have
 * been handled before (`mayHaveBeenHandled`: handed back by Lambda, or in a container's first
 * batch), so that a backlog drains without a lookup per batch. Each key is looked up at most once
 * per container, so a batch retried through an outage costs one lookup, not one a retry.
 */
export const skipAccepted = async (
  deps: {
    readonly memory: SettledMemory;
    readonly tracker: Pick<DeliveryTracker, 'settled'> | undefined;
  },
  batch: ClassifiedBatch,
  mayHaveBeenHandled: (position: number) => boolean,
): Promise<SkipResult> => {
  const { memory, tracker } = deps;
  const known = (key: OutboxKey | undefined) => (key ? memory.stateOf(key) : undefined);
  const unknown = batch.candidates.filter(
    (c) => known(c.value.key) === undefined && mayHaveBeenHandled(c.position),
  );
  let lookedUp = 0;
  let unread = 0;
  if (tracker && unknown.length > 0) {
    const found = await tracker.settled(unknown.map((c) => c.value));
    const keys = unknown.map((c) => c.value.key);
    lookedUp = keys.length;
    unread = found.unread;
    memory.remember(found.settled, 'settled');
    if (found.unread === 0)
      memory.remember(
        keys.filter((k) => memory.stateOf(k) === undefined),
        'unsettled',
      );
  }
  const candidates = batch.candidates.filter((c) => known(c.value.key) !== 'settled');
  const malformed = batch.malformed.filter((m) => known(m.value.key) !== 'settled');
  return {
    batch: { ...batch, candidates, malformed },
    skipped: batch.candidates.length - candidates.length + batch.malformed.length - malformed.length,
    lookedUp,
    unread,
  };
};

export interface PublishOutcome {
  readonly published: At<OutboxRecord>[];
  /** Every poison record, in stream order: to park now. */
  readonly toPark: At<PoisonRecord>[];
  readonly poison: number;
  /** Position of the first record that must be retried, or Infinity. */
  readonly retryFrom: number;
}

/**
 * Step 3's result sorted out, pure: what was published, what to park, where to resume. Poison is
 * parked now wherever it sits, even after the first retryable record: during an outage a batch
 * may be retried for hours, and a record that can never be published must not wait for it. When
 * it comes back with the retried records, skipAccepted knows it is parked.
 */
export const sortOutcome = (
  batch: ClassifiedBatch,
  result: PublishResult,
  records: readonly DynamoDBRecord[],
): PublishOutcome => {
  const candidate = (index: number): At<OutboxRecord> => batch.candidates[index] as At<OutboxRecord>;
  const retryFrom = Math.min(
    Number.POSITIVE_INFINITY,
    ...result.retryable.map((f) => candidate(f.index).position),
  );
  const poison: At<PoisonRecord>[] = [
    ...batch.malformed,
    ...result.poison.map((failed) => {
      const { position, value } = candidate(failed.index);
      const record = records[position];
      return {
        position,
        value: {
          errorCode: failed.errorCode,
          reason: failed.errorMessage,
          key: value.key,
          envelope: value.envelope,
          item: value.item,
          stream: record ? streamPosition(record) : undefined,
        },
      };
    }),
  ];
  return {
    published: result.published.map(candidate),
    toPark: [...poison].sort((a, b) => a.position - b.position),
    poison: poison.length,
    retryFrom,
  };
};

export interface Settlement {
  readonly parking?: PoisonSendResult;
  readonly markedParked?: MarkResult;
  readonly markedPublished?: MarkResult;
  /** Positions of poison records the queue did not take: they must be retried. */
  readonly unparked: number[];
}

/**
 * Step 3: park poison on the queue with its full content and record outcomes (delivery tracking).
 * An item is marked parked only once the queue holds it. The reconciler settles its pages with it too.
 */
export const settle = async (
  deps: Pick<RelayDeps, 'poisonQueue' | 'tracker'>,
  outcome: Pick<PublishOutcome, 'published' | 'toPark'>,
  now: Date,
): Promise<Settlement> => {
  const { tracker } = deps;
  const park = async (): Promise<Pick<Settlement, 'parking' | 'markedParked'>> => {
    if (outcome.toPark.length === 0) return {};
    const parking = await deps.poisonQueue.send(outcome.toPark.map((p) => p.value));
    const parked = parking.sent.flatMap(trackedOfPoison);
    if (!tracker || parked.length === 0) return { parking };
    return { parking, markedParked: await tracker.markParked(parked, now) };
  };
  const [parked, markedPublished] = await Promise.all([
    park(),
    tracker && outcome.published.length > 0
      ? tracker.markPublished(
          outcome.published.map((p) => p.value),
          now,
        )
      : undefined,
  ]);
  const positionOf = new Map(outcome.toPark.map((p) => [p.value, p.position]));
  return {
    ...parked,
    ...(markedPublished ? { markedPublished } : {}),
    unparked: (parked.parking?.failed ?? []).map((f) => positionOf.get(f.record) ?? 0),
  };
};

/**
 * Step 4, pure: the partial batch response
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html). "If the
 * batchItemFailures array contains multiple items, Lambda uses the record with the lowest
 * sequence number as the checkpoint. Lambda then retries all records starting from that
 * checkpoint." So only the first record (in stream order) that must be retried is named:
 * everything before it is done, everything from it on comes again, in order.
 */
export const checkpoint = (records: readonly DynamoDBRecord[], retryFrom: number): DynamoDBBatchResponse => {
  if (retryFrom === Number.POSITIVE_INFINITY) return { batchItemFailures: [] };
  const sequenceNumber = records[retryFrom]?.dynamodb?.SequenceNumber;
  // Without a sequence number there is no checkpoint to name: fail the whole batch instead.
  if (sequenceNumber === undefined) throw new Error('A record to retry has no sequence number');
  return { batchItemFailures: [{ itemIdentifier: sequenceNumber }] };
};

/**
 * The relay for one stream batch: classify → skipAccepted → publish → settle → checkpoint.
 *
 * Why not Powertools BatchProcessor: it hands records to a handler one at a time, while PutEvents
 * takes up to 10 entries per call and the point is to pack a batch into as few calls as possible.
 */
export const createRelayHandler = (deps: RelayDeps) => {
  const log = deps.logger ?? sharedLogger;
  const metrics = deps.metrics ?? sharedMetrics;
  const now = deps.now ?? (() => new Date());
  const memory = deps.memory ?? new SettledMemory();
  const handed = new HandedPositions();
  let firstBatch = true;
  const publishFailures = new PublishFailureLog(log);

  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const records = event.Records ?? [];
    const classified = classify(deps.layout, records);
    // A container's first batch may be a retry of one a crashed or timed-out container handled.
    const mayHaveBeenHandled = (position: number) => firstBatch || handed.mayHaveHandled(records[position]);
    const skip = await skipAccepted({ memory, tracker: deps.tracker }, classified, mayHaveBeenHandled);
    firstBatch = false;
    // Handed on before publishing: should publishing or settling throw, the retried batch is looked up.
    handed.handed(records);
    const { batch } = skip;
    if (batch.malformed.length > 0)
      metrics.addMetric(MetricName.PoisonEvents, MetricUnit.Count, batch.malformed.length);
    if (skip.skipped > 0) metrics.addMetric(MetricName.EventsSkipped, MetricUnit.Count, skip.skipped);
    const result = await deps.publisher.publish(batch.candidates.map((c) => c.value));
    const outcome = sortOutcome(batch, result, records);
    // Remembered before settling: should settling throw, the retried batch still skips them.
    memory.remember(
      outcome.published.map((p) => p.value.key),
      'settled',
    );
    const settlement = await settle(deps, outcome, now());
    memory.remember(
      (settlement.parking?.sent ?? []).flatMap((p) => (p.key ? [p.key] : [])),
      'settled',
    );
    const response = checkpoint(records, Math.min(outcome.retryFrom, ...settlement.unparked));
    logOutcome(log, {
      batch,
      skip,
      result,
      outcome,
      settlement,
      response,
      records: records.length,
      now: now(),
      publishFailures,
    });
    return response;
  };
};

const logOutcome = (
  log: LogSink,
  run: {
    batch: ClassifiedBatch;
    skip: SkipResult;
    result: PublishResult;
    outcome: PublishOutcome;
    settlement: Settlement;
    response: DynamoDBBatchResponse;
    records: number;
    now: Date;
    publishFailures: PublishFailureLog;
  },
): void => {
  const { batch, result, outcome, settlement } = run;
  run.publishFailures.record(
    {
      failed: result.retryable.map((failed) => ({
        errorCode: failed.errorCode,
        occurredAt: batch.candidates[failed.index]?.value.envelope.occurredAt,
      })),
      published: outcome.published.length,
    },
    run.now,
  );
  for (const { value } of outcome.toPark)
    log.error('Poison event parked on the dead-letter queue', {
      eventId: value.envelope?.eventId,
      outboxKey: describeKey(value.key),
      errorCode: value.errorCode,
      reason: value.reason,
      sequenceNumber: value.stream?.sequenceNumber,
    });
  for (const failed of settlement.parking?.failed ?? [])
    log.error('Poison queue rejected the message, will retry the record', {
      eventId: failed.record.envelope?.eventId,
      outboxKey: describeKey(failed.record.key),
      errorCode: failed.errorCode,
      errorMessage: failed.errorMessage,
    });
  for (const failed of settlement.markedParked?.failed ?? [])
    log.warn('Could not record a parked event as parked; the reconciler will park it', {
      outboxKey: describeKey(failed.key),
      errorCode: failed.errorCode,
    });
  for (const failed of settlement.markedPublished?.failed ?? [])
    log.warn('Could not mark event published; the reconciler will republish it', {
      outboxKey: describeKey(failed.key),
      errorCode: failed.errorCode,
    });
  const publishedAt = run.now.getTime();
  const maxLagMs = outcome.published.reduce(
    (max, p) => Math.max(max, publishedAt - Date.parse(p.value.envelope.occurredAt)),
    0,
  );
  log.info('Outbox batch relayed', {
    records: run.records,
    ignored: batch.ignored,
    outboxInserts: batch.candidates.length + batch.malformed.length + run.skip.skipped,
    skipped: run.skip.skipped,
    lookedUp: run.skip.lookedUp,
    lookUpUnread: run.skip.unread,
    published: outcome.published.length,
    retryable: result.retryable.length,
    poison: outcome.poison,
    parked: settlement.parking?.sent.length ?? 0,
    parkFailures: settlement.parking?.failed.length ?? 0,
    markedParked: settlement.markedParked?.marked ?? 0,
    markParkedFailures: settlement.markedParked?.failed.length ?? 0,
    markedPublished: settlement.markedPublished?.marked ?? 0,
    markFailures: settlement.markedPublished?.failed.length ?? 0,
    maxLagMs,
    retryFromSequenceNumber: run.response.batchItemFailures[0]?.itemIdentifier,
  });
};
