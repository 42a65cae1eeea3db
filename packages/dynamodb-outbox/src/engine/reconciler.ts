import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { describeKey } from '../runtime/layout.js';
import { MetricName } from '../runtime/metric-names.js';
import { logger as sharedLogger, metrics as sharedMetrics } from '../runtime/powertools.js';
import { type DeliveryTracker, trackedOfPoison } from './delivery-tracking.js';
import type { PendingSource } from './pending-outbox.js';
import type { PoisonQueue, PoisonRecord } from './poison-queue.js';
import type { LogSink, MetricsSink, OutboxPublisher } from './publisher.js';
import { MALFORMED_ITEM } from './relay.js';

export interface ReconcileSettings {
  /** Republish items still pending this long after they were written. */
  readonly thresholdSeconds: number;
  /** Items handled per run at most; the next run picks up the rest. */
  readonly maxItemsPerRun: number;
  /** Items read and published per step. */
  readonly pageSize: number;
}

export interface ReconcilerDeps {
  /** The outbox listed by time, compared with the receipts. */
  readonly pending: PendingSource;
  readonly publisher: Pick<OutboxPublisher, 'publish'>;
  readonly poisonQueue: Pick<PoisonQueue, 'send'>;
  readonly tracker: DeliveryTracker;
  readonly settings: ReconcileSettings;
  readonly metrics?: MetricsSink;
  readonly logger?: Pick<LogSink, 'info' | 'warn' | 'error'>;
  readonly now?: () => Date;
}

export interface ReconcileReport {
  /** Pending items older than the threshold that were found. */
  readonly found: number;
  readonly republished: number;
  /** Left pending after a retryable failure; the next run tries again. */
  readonly retryable: number;
  /** Sent to the poison queue and recorded as parked. */
  readonly parked: number;
  /** Republished but not marked: they will be republished again (a duplicate, never a loss). */
  readonly markFailures: number;
  /** The oldest occurredAt found, if any. */
  readonly oldestOccurredAt?: string;
  /** True when the run stopped at maxItemsPerRun or the time budget, with items possibly left. */
  readonly truncated: boolean;
}

/**
 * One reconciler run: find outbox items that are still unpublished well after they were written
 * (the relay was down longer than the stream kept their records, or gave up on them) and
 * republish them through the same publisher the relay uses, then mark them published exactly
 * as the relay does. Consumers deduplicate on eventId, so republishing an item the relay did
 * publish (but could not mark) costs a duplicate, never a second effect.
 */
export const reconcile = async (
  deps: ReconcilerDeps,
  hasTimeLeft: () => boolean = () => true,
): Promise<ReconcileReport> => {
  const now = deps.now ?? (() => new Date());
  const log = deps.logger ?? sharedLogger;
  const { settings } = deps;
  const before = new Date(now().getTime() - settings.thresholdSeconds * 1000).toISOString();
  let found = 0;
  let republished = 0;
  let retryable = 0;
  let parked = 0;
  let markFailures = 0;
  /**
   * The first shard (oldest first) that still holds something for the next run: truncated there,
   * a retryable republish, a failed receipt, or poison the queue did not take.
   */
  let firstUnsettled: string | undefined;
  let oldest: string | undefined;
  let truncated = false;

  for (const shard of await deps.pending.shards(before)) {
    let startKey: Record<string, unknown> | undefined;
    do {
      const budget = settings.maxItemsPerRun - found;
      if (budget <= 0 || !hasTimeLeft()) {
        truncated = true;
        firstUnsettled ??= shard;
        break;
      }
      const page = await deps.pending.page(shard, before, Math.min(settings.pageSize, budget), startKey);
      startKey = page.nextKey;
      found += page.records.length + page.malformed.length;
      for (const { envelope } of page.records)
        if (oldest === undefined || envelope.occurredAt < oldest) oldest = envelope.occurredAt;
      if (page.records.length === 0 && page.malformed.length === 0) continue;

      const result = await deps.publisher.publish(page.records);
      const recordAt = (index: number) => page.records[index] as (typeof page.records)[number];
      republished += result.published.length;
      retryable += result.retryable.length;
      for (const failed of result.retryable)
        log.warn('Republish failed, will retry on the next run', {
          eventId: recordAt(failed.index).envelope.eventId,
          aggregateId: recordAt(failed.index).envelope.aggregateId,
          errorCode: failed.errorCode,
        });

      const poison: PoisonRecord[] = [
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
      const published = result.published.map(recordAt);
      const [marking, parking] = await Promise.all([
        published.length > 0 ? deps.tracker.markPublished(published, now()) : undefined,
        poison.length > 0 ? parkPoison(deps, log, poison, now()) : { parked: 0, left: 0 },
      ]);
      markFailures += marking?.failed.length ?? 0;
      parked += parking.parked;
      if (result.retryable.length > 0 || (marking?.failed.length ?? 0) > 0 || parking.left > 0)
        firstUnsettled ??= shard;
      for (const failed of marking?.failed ?? [])
        log.warn('Could not mark republished event; it will be republished again', {
          outboxKey: describeKey(failed.key),
          errorCode: failed.errorCode,
        });
      for (const { envelope } of published)
        log.info('Stuck event republished', {
          eventId: envelope.eventId,
          aggregateId: envelope.aggregateId,
          occurredAt: envelope.occurredAt,
        });
    } while (startKey !== undefined);
    if (truncated) break;
  }

  // What is settled need not be read again: up to `before`, or up to the first shard with work left.
  if (deps.pending.settled) await deps.pending.settled(before, firstUnsettled);

  // Emitted on every run, 0 included, so that an alarm on it always has data.
  (deps.metrics ?? sharedMetrics).addMetric(MetricName.ReconcilerRepublished, MetricUnit.Count, republished);
  const report: ReconcileReport = {
    found,
    republished,
    retryable,
    parked,
    markFailures,
    ...(oldest === undefined ? {} : { oldestOccurredAt: oldest }),
    truncated,
  };
  log.info('Reconciler run finished', { ...report, thresholdSeconds: settings.thresholdSeconds });
  return report;
};

/** Poison queue first, then recorded as parked: an item is parked only once its content is safe. */
const parkPoison = async (
  deps: ReconcilerDeps,
  log: Pick<LogSink, 'info' | 'warn' | 'error'>,
  records: PoisonRecord[],
  now: Date,
): Promise<{ parked: number; left: number }> => {
  const sent = await deps.poisonQueue.send(records);
  for (const failed of sent.failed)
    log.error('Poison queue rejected the message; the item stays pending', {
      eventId: failed.record.envelope?.eventId,
      outboxKey: describeKey(failed.record.key),
      errorCode: failed.errorCode,
    });
  for (const record of sent.sent)
    log.error('Event can never be published as it is; parked on the poison queue', {
      eventId: record.envelope?.eventId,
      outboxKey: describeKey(record.key),
      errorCode: record.errorCode,
      reason: record.reason,
    });
  const items = sent.sent.flatMap(trackedOfPoison);
  if (items.length === 0) return { parked: 0, left: sent.failed.length };
  const parking = await deps.tracker.markParked(items, now);
  for (const failed of parking.failed)
    log.warn('Could not record a parked event as parked; the next run parks it again', {
      outboxKey: describeKey(failed.key),
      errorCode: failed.errorCode,
    });
  return { parked: parking.marked, left: sent.failed.length + parking.failed.length };
};
