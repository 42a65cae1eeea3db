import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { describeKey, type OutboxKey } from '../runtime/layout.js';
import { MetricName } from '../runtime/metric-names.js';
import type { OutboxRecord } from '../runtime/outbox-item.js';
import { logger as sharedLogger, metrics as sharedMetrics } from '../runtime/powertools.js';
import type { DeliveryTracker } from './delivery-tracking.js';
import type { PendingPage, PendingSource } from './pending-outbox.js';
import type { PoisonQueue, PoisonRecord } from './poison-queue.js';
import type { LogSink, MetricsSink, OutboxPublisher, PublishResult } from './publisher.js';
import {
  DEFAULT_RETRY_POLICY,
  nextAttemptAfter,
  type RetryPolicy,
  type StuckEvent,
  type StuckEvents,
  stuckIdOf,
} from './reconciler-retries.js';
import { MALFORMED_ITEM, type PublishOutcome, type Settlement, settle } from './relay.js';

/** Error code of an event parked because it failed retryably on every run the retry policy allows. */
export const RETRIES_EXHAUSTED = 'RetriesExhausted';

export interface ReconcileSettings {
  /** Republish items still pending this long after they were written. */
  readonly thresholdSeconds: number;
  /** Items handled per run at most; the next run picks up the rest. */
  readonly maxItemsPerRun: number;
  /** Items read and published per step. */
  readonly pageSize: number;
  /**
   * Queries of the listing per run at most, empty ones included: a first run over a long
   * retention reads this many, saves where it stopped, and the next runs carry on from there.
   * @default DEFAULT_MAX_PAGES_PER_RUN
   */
  readonly maxPagesPerRun?: number;
  /**
   * How an event that keeps failing retryably is retried, apart from the watermark, and when it
   * is parked. @default DEFAULT_RETRY_POLICY
   */
  readonly retry?: RetryPolicy;
}

/**
 * Listing queries per run: at a few milliseconds each, well inside the reconciler's default
 * 2-minute timeout, and a bound of its own where no timeout stops a run (offline). A first run
 * over a week at 8 shards (80,640 partitions) catches up in 9 runs.
 */
export const DEFAULT_MAX_PAGES_PER_RUN = 10_000;

export interface ReconcilerDeps {
  /** The outbox listed by time, compared with the receipts. */
  readonly pending: PendingSource;
  /** Events that failed retryably, retried on their own schedule so that the listing moves on. */
  readonly stuck: Pick<StuckEvents, 'list' | 'reread' | 'save' | 'forget' | 'expiresAtOf'>;
  readonly publisher: Pick<OutboxPublisher, 'publish'>;
  readonly poisonQueue: Pick<PoisonQueue, 'send'>;
  readonly tracker: DeliveryTracker;
  readonly settings: ReconcileSettings;
  readonly metrics?: MetricsSink;
  readonly logger?: Pick<LogSink, 'info' | 'warn' | 'error'>;
  readonly now?: () => Date;
}

export interface ReconcileReport {
  /** Pending items older than the threshold that were found, due stuck events included. */
  readonly found: number;
  readonly republished: number;
  /** Failed retryably: kept as stuck events, tried again after a backoff. */
  readonly retryable: number;
  /** Sent to the poison queue and recorded as parked (those parked after retries included). */
  readonly parked: number;
  /** Stuck events parked because they failed on every run the retry policy allows. */
  readonly parkedAfterRetries: number;
  /** Stuck events whose next attempt is not due yet. */
  readonly deferred: number;
  /** Stuck events known after the run: each awaits its next attempt. */
  readonly stuck: number;
  /** Republished but not marked: they will be republished again (a duplicate, never a loss). */
  readonly markFailures: number;
  /** The oldest occurredAt found, if any. */
  readonly oldestOccurredAt?: string;
  /** True when the run stopped at maxItemsPerRun, maxPagesPerRun or the time budget, with items possibly left. */
  readonly truncated: boolean;
}

type Log = Pick<LogSink, 'info' | 'warn' | 'error'>;

/** One run's state, shared by its steps. */
interface Run {
  readonly deps: ReconcilerDeps;
  readonly log: Log;
  readonly now: Date;
  /** The cut-off: items written before it are due. */
  readonly before: string;
  /** Stuck events by stuckIdOf: those the run read, updated as it goes. */
  readonly stuck: Map<string, StuckEvent>;
  /** Stuck events step 1 tried, by stuckIdOf: settled or not, the listing leaves them alone this run. */
  readonly retried: Set<string>;
  found: number;
  republished: number;
  retryable: number;
  parked: number;
  parkedAfterRetries: number;
  deferred: number;
  markFailures: number;
  pagesRead: number;
  oldest?: string;
  /** The first shard (oldest first) that holds something the run could not settle nor keep as stuck. */
  firstUnsettled?: string;
  truncated: boolean;
}

/**
 * One reconciler run: find outbox items that are still unpublished well after they were written
 * (the relay was down longer than the stream kept their records, or gave up on them) and
 * republish them through the same publisher the relay uses, then settle them exactly as the relay
 * does. Consumers deduplicate on eventId, so republishing an item the relay did publish (but
 * could not record) costs a duplicate, never a second effect.
 *
 * Steps: stuck events due → list → skip stuck → publish → park → keep what failed as stuck →
 * advance. An event that fails retryably is kept apart as a stuck event with its own backoff and
 * parked after `retry.maxAttempts` runs, so the listing's watermark never waits for it.
 */
export const reconcile = async (
  deps: ReconcilerDeps,
  hasTimeLeft: () => boolean = () => true,
): Promise<ReconcileReport> => {
  const now = (deps.now ?? (() => new Date()))();
  const run: Run = {
    deps,
    log: deps.logger ?? sharedLogger,
    now,
    before: new Date(now.getTime() - deps.settings.thresholdSeconds * 1000).toISOString(),
    stuck: new Map(),
    retried: new Set(),
    found: 0,
    republished: 0,
    retryable: 0,
    parked: 0,
    parkedAfterRetries: 0,
    deferred: 0,
    markFailures: 0,
    pagesRead: 0,
    truncated: false,
  };
  await retryDue(run);
  await list(run, hasTimeLeft);
  await advance(run);
  return finish(run);
};

/**
 * Step 1: the stuck events whose next attempt is due, read again from the table and republished.
 * Read first and in full (up to maxItemsPerRun), so that the listing can leave them out.
 */
const retryDue = async (run: Run): Promise<void> => {
  const { deps, now } = run;
  for (const event of await deps.stuck.list(deps.settings.maxItemsPerRun))
    run.stuck.set(stuckIdOf(event.key), event);
  const due = [...run.stuck.values()].filter((event) => Date.parse(event.nextAttemptAt) <= now.getTime());
  run.deferred = run.stuck.size - due.length;
  if (due.length === 0) return;
  for (const event of due) run.retried.add(stuckIdOf(event.key));
  const { page, gone } = await deps.stuck.reread(due, now);
  for (const event of gone)
    run.log.warn('Stuck event is gone or past its TTL; no longer retried', {
      outboxKey: describeKey(event.key),
      attempts: event.attempts,
      firstFailedAt: event.firstFailedAt,
    });
  const settled = page.records.length > 0 ? (await deps.tracker.settled(page.records)).settled : [];
  await forget(run, [...gone.map((event) => event.key), ...settled]);
  const settledIds = new Set(settled.map(stuckIdOf));
  await handle(run, { ...page, records: page.records.filter((r) => !settledIds.has(stuckIdOf(r.key))) });
};

/**
 * Step 2: the listing, shard by shard from where the last run stopped, page by page, within the
 * run's budgets of items, queries and time. A shard it could not finish becomes `firstUnsettled`.
 */
const list = async (run: Run, hasTimeLeft: () => boolean): Promise<void> => {
  const { deps } = run;
  const { settings } = deps;
  for (const shard of await deps.pending.shards(run.before)) {
    let startKey: Record<string, unknown> | undefined;
    do {
      const budget = settings.maxItemsPerRun - run.found;
      if (
        budget <= 0 ||
        run.pagesRead >= (settings.maxPagesPerRun ?? DEFAULT_MAX_PAGES_PER_RUN) ||
        !hasTimeLeft()
      ) {
        run.truncated = true;
        run.firstUnsettled ??= shard;
        return;
      }
      const page = await deps.pending.page(shard, run.before, Math.min(settings.pageSize, budget), startKey);
      run.pagesRead++;
      startKey = page.nextKey;
      await handle(run, skipStuck(run, page), shard);
    } while (startKey !== undefined);
  }
};

/**
 * Step 3: leave out what step 1 owns. A listing that still holds a stuck event lists it again: a
 * minute read again because the watermark stayed there.
 */
const skipStuck = (run: Run, page: PendingPage): PendingPage => {
  if (run.stuck.size === 0 && run.retried.size === 0) return page;
  const isStuck = (key: OutboxKey | undefined) =>
    key !== undefined && (run.stuck.has(stuckIdOf(key)) || run.retried.has(stuckIdOf(key)));
  return {
    ...page,
    records: page.records.filter((r) => !isStuck(r.key)),
    malformed: page.malformed.filter((m) => !isStuck(m.key)),
  };
};

/**
 * Steps 4 to 6 for one page: publish, park (the relay's `settle`), and keep what failed as stuck
 * events. `shard` is the listing's shard the page came from; what could be neither settled nor
 * kept holds the watermark there.
 */
const handle = async (run: Run, page: PendingPage, shard?: string): Promise<void> => {
  run.found += page.records.length + page.malformed.length;
  for (const { envelope } of page.records)
    if (run.oldest === undefined || envelope.occurredAt < run.oldest) run.oldest = envelope.occurredAt;
  if (page.records.length === 0 && page.malformed.length === 0) return;

  const result = await run.deps.publisher.publish(page.records);
  const sorted = sortPage(run, page, result);
  const settlement = await settle(run.deps, sorted.outcome, run.now);
  const failing = [...sorted.failing, ...unparked(run, settlement)];
  const unsaved = await keepStuck(run, failing);
  const settledKeys = [
    ...sorted.outcome.published.map((p) => p.value.key),
    ...(settlement.parking?.sent ?? []).flatMap((p) => (p.key ? [p.key] : [])),
  ].filter((key) => run.stuck.has(stuckIdOf(key)));
  await forget(run, settledKeys);

  run.republished += sorted.outcome.published.length;
  run.retryable += result.retryable.length;
  run.parked += settlement.markedParked?.marked ?? 0;
  run.parkedAfterRetries += (settlement.parking?.sent ?? []).filter(
    (p) => p.errorCode === RETRIES_EXHAUSTED,
  ).length;
  run.markFailures += settlement.markedPublished?.failed.length ?? 0;
  const keyless = (settlement.parking?.failed ?? []).some((f) => f.record.key === undefined);
  if (shard !== undefined && (unsaved > 0 || keyless || (settlement.markedPublished?.failed.length ?? 0) > 0))
    run.firstUnsettled ??= shard;
  logPage(run.log, sorted, settlement);
};

interface SortedPage {
  /** What was published, and what to park: poison, malformed items, and stuck events out of attempts. */
  readonly outcome: Pick<PublishOutcome, 'published' | 'toPark'>;
  /** Retryable failures with their next attempt: kept as stuck events. */
  readonly failing: StuckEvent[];
}

/**
 * Pure: a page's publish result sorted by what comes next. A retryable failure becomes a stuck
 * event one attempt further on; one out of attempts, or whose next attempt would come after its
 * TTL (nothing would republish it then), is parked now with its full content.
 */
const sortPage = (run: Run, page: PendingPage, result: PublishResult): SortedPage => {
  const recordAt = (index: number) => page.records[index] as OutboxRecord;
  const toPark: PoisonRecord[] = [
    ...result.poison.map((failed) => {
      const { key, envelope, item } = recordAt(failed.index);
      return { errorCode: failed.errorCode, reason: failed.errorMessage, key, envelope, item };
    }),
    ...page.malformed.map((m) => ({
      errorCode: MALFORMED_ITEM,
      reason: m.reason,
      ...(m.key ? { key: m.key } : {}),
      item: m.item,
    })),
  ];
  const failing: StuckEvent[] = [];
  for (const failed of result.retryable) {
    const record = recordAt(failed.index);
    const event = failedAgain(run, record, failed.errorCode, failed.errorMessage);
    const expiresAt = event.expiresAt === undefined ? Number.POSITIVE_INFINITY : event.expiresAt * 1000;
    const outOfAttempts = event.attempts >= retryPolicyOf(run).maxAttempts;
    if (outOfAttempts || Date.parse(event.nextAttemptAt) >= expiresAt)
      toPark.push({
        errorCode: RETRIES_EXHAUSTED,
        reason: `Failed retryably on ${event.attempts} reconciler runs since ${event.firstFailedAt}${outOfAttempts ? '' : ', and its TTL comes before the next attempt'}; last error ${failed.errorCode}: ${event.lastErrorMessage}`,
        key: record.key,
        envelope: record.envelope,
        item: record.item,
      });
    else failing.push(event);
  }
  return {
    outcome: {
      published: result.published.map((index) => ({ position: index, value: recordAt(index) })),
      toPark: toPark.map((value, position) => ({ position, value })),
    },
    failing,
  };
};

const retryPolicyOf = (run: Run): RetryPolicy => run.deps.settings.retry ?? DEFAULT_RETRY_POLICY;

/** The stuck event `record` becomes after failing once more now. */
const failedAgain = (
  run: Run,
  record: Pick<OutboxRecord, 'key' | 'item'>,
  errorCode: string,
  errorMessage: string,
): StuckEvent => {
  const before = run.stuck.get(stuckIdOf(record.key));
  const attempts = (before?.attempts ?? 0) + 1;
  const expiresAt = run.deps.stuck.expiresAtOf(record.item);
  return {
    key: record.key,
    attempts,
    firstFailedAt: before?.firstFailedAt ?? run.now.toISOString(),
    nextAttemptAt: nextAttemptAfter(retryPolicyOf(run), attempts, run.now).toISOString(),
    lastErrorCode: errorCode,
    lastErrorMessage: errorMessage,
    ...(expiresAt === undefined ? {} : { expiresAt }),
  };
};

/** Poison the queue did not take: kept as stuck events, so that a later run parks them. */
const unparked = (run: Run, settlement: Settlement): StuckEvent[] =>
  (settlement.parking?.failed ?? []).flatMap(({ record, errorCode, errorMessage }) =>
    record.key
      ? [failedAgain(run, { key: record.key, item: record.item ?? {} }, errorCode, errorMessage)]
      : [],
  );

/** Saves stuck events; returns how many could not be saved (their shard then holds the watermark). */
const keepStuck = async (run: Run, events: readonly StuckEvent[]): Promise<number> => {
  if (events.length === 0) return 0;
  const unsaved = new Set((await run.deps.stuck.save(events)).map(stuckIdOf));
  for (const event of events) {
    if (unsaved.has(stuckIdOf(event.key))) {
      run.log.error('Could not save a stuck event; its minute is read again next run', {
        outboxKey: describeKey(event.key),
      });
      continue;
    }
    run.stuck.set(stuckIdOf(event.key), event);
    run.log.warn('Republish failed; retried on a later run', {
      outboxKey: describeKey(event.key),
      attempts: event.attempts,
      nextAttemptAt: event.nextAttemptAt,
      errorCode: event.lastErrorCode,
    });
  }
  return unsaved.size;
};

/** Deletes the stuck entries of settled events. One left behind is harmless: the next run finds the event settled. */
const forget = async (run: Run, keys: readonly OutboxKey[]): Promise<void> => {
  if (keys.length === 0) return;
  const kept = new Set((await run.deps.stuck.forget(keys)).map(stuckIdOf));
  for (const key of keys) if (!kept.has(stuckIdOf(key))) run.stuck.delete(stuckIdOf(key));
};

/** Step 7: what is settled or kept as stuck need not be listed again. */
const advance = async (run: Run): Promise<void> => {
  if (run.deps.pending.settled) await run.deps.pending.settled(run.before, run.firstUnsettled);
};

const finish = (run: Run): ReconcileReport => {
  const metrics = run.deps.metrics ?? sharedMetrics;
  // Emitted on every run, 0 included, so that their alarms always have data.
  metrics.addMetric(MetricName.ReconcilerRepublished, MetricUnit.Count, run.republished);
  metrics.addMetric(MetricName.ReconcilerParkedAfterRetries, MetricUnit.Count, run.parkedAfterRetries);
  metrics.addMetric(MetricName.ReconcilerStuckEvents, MetricUnit.Count, run.stuck.size);
  const report: ReconcileReport = {
    found: run.found,
    republished: run.republished,
    retryable: run.retryable,
    parked: run.parked,
    parkedAfterRetries: run.parkedAfterRetries,
    deferred: run.deferred,
    stuck: run.stuck.size,
    markFailures: run.markFailures,
    ...(run.oldest === undefined ? {} : { oldestOccurredAt: run.oldest }),
    truncated: run.truncated,
  };
  run.log.info('Reconciler run finished', {
    ...report,
    thresholdSeconds: run.deps.settings.thresholdSeconds,
  });
  return report;
};

const logPage = (log: Log, sorted: SortedPage, settlement: Settlement): void => {
  for (const failed of settlement.parking?.failed ?? [])
    log.error('Poison queue rejected the message; kept as a stuck event, parked on a later run', {
      eventId: failed.record.envelope?.eventId,
      outboxKey: describeKey(failed.record.key),
      errorCode: failed.errorCode,
    });
  for (const record of settlement.parking?.sent ?? [])
    log.error('Event can never be published as it is; parked on the poison queue', {
      eventId: record.envelope?.eventId,
      outboxKey: describeKey(record.key),
      errorCode: record.errorCode,
      reason: record.reason,
    });
  for (const failed of settlement.markedParked?.failed ?? [])
    log.warn('Could not record a parked event as parked; the next run parks it again', {
      outboxKey: describeKey(failed.key),
      errorCode: failed.errorCode,
    });
  for (const failed of settlement.markedPublished?.failed ?? [])
    log.warn('Could not mark republished event; it will be republished again', {
      outboxKey: describeKey(failed.key),
      errorCode: failed.errorCode,
    });
  for (const { value } of sorted.outcome.published)
    log.info('Stuck event republished', {
      eventId: value.envelope.eventId,
      aggregateId: value.envelope.aggregateId,
      occurredAt: value.envelope.occurredAt,
    });
};
