import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { markParked, markPublished } from '../outbox/delivery-tracking';
import type { PoisonQueue, PoisonRecord } from '../outbox/poison-queue';
import type { LogSink, MetricsSink, OutboxPublisher } from '../outbox/publisher';
import { orderIdFromPk, pendingShards } from '../shared/keys';
import { MetricName } from '../shared/metric-names';
import { ordersTable } from '../shared/table-definition';
import type { PendingOutbox } from './pending-outbox';

export interface ReconcilerSettings {
  /** Republish items still pending this long after they occurred. */
  readonly thresholdSeconds: number;
  /** Items handled per run at most; the next run picks up the rest. */
  readonly maxItemsPerRun: number;
  /** Items read and published per step. */
  readonly pageSize: number;
  /** Days a published item is kept before TTL (delivery tracking). */
  readonly retentionDays: number;
}

export interface ReconcilerDeps {
  readonly pending: PendingOutbox;
  readonly publisher: Pick<OutboxPublisher, 'publish'>;
  readonly poisonQueue: Pick<PoisonQueue, 'send'>;
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly settings: ReconcilerSettings;
  readonly metrics: MetricsSink;
  readonly logger: Pick<LogSink, 'info' | 'warn' | 'error'>;
  readonly now?: () => Date;
}

export interface ReconcileReport {
  /** Pending items older than the threshold that were found. */
  readonly found: number;
  readonly republished: number;
  /** Left pending after a retryable failure; the next run tries again. */
  readonly retryable: number;
  /** Sent to the poison queue and taken off the pending index. */
  readonly parked: number;
  /** Republished but not marked: they will be republished again (a duplicate, never a loss). */
  readonly markFailures: number;
  /** The oldest occurredAt found, if any. */
  readonly oldestOccurredAt?: string;
  /** True when the run stopped at maxItemsPerRun or the time budget, with items possibly left. */
  readonly truncated: boolean;
}

/**
 * One reconciler run: find outbox items that are still unpublished well after they occurred
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
  const { settings } = deps;
  const before = new Date(now().getTime() - settings.thresholdSeconds * 1000).toISOString();
  let found = 0;
  let republished = 0;
  let retryable = 0;
  let parked = 0;
  let markFailures = 0;
  let oldest: string | undefined;
  let truncated = false;

  for (const shard of pendingShards(ordersTable.pendingShardCount)) {
    let startKey: Record<string, unknown> | undefined;
    do {
      const budget = settings.maxItemsPerRun - found;
      if (budget <= 0 || !hasTimeLeft()) {
        truncated = true;
        break;
      }
      const page = await deps.pending.page(shard, before, Math.min(settings.pageSize, budget), startKey);
      startKey = page.nextKey;
      found += page.items.length + page.malformed.length;
      for (const item of page.items)
        if (oldest === undefined || item.occurredAt < oldest) oldest = item.occurredAt;
      if (page.items.length === 0 && page.malformed.length === 0) continue;

      const result = await deps.publisher.publish(page.items);
      republished += result.published.length;
      retryable += result.retryable.length;
      for (const failed of result.retryable)
        deps.logger.warn('Republish failed, will retry on the next run', {
          eventId: failed.item.eventId,
          orderId: failed.item.aggregateId,
          errorCode: failed.errorCode,
        });

      const poison: PoisonRecord[] = [
        ...result.poison.map((failed) => ({
          errorCode: failed.errorCode,
          reason: failed.errorMessage,
          key: { PK: failed.item.PK, SK: failed.item.SK },
          item: failed.item,
        })),
        ...page.malformed.map((m) => ({
          errorCode: 'MalformedItem',
          reason: m.reason,
          ...(m.key ? { key: m.key } : {}),
          image: m.image,
        })),
      ];
      const [marking, parking] = await Promise.all([
        result.published.length > 0
          ? markPublished(deps.doc, deps.tableName, result.published, now(), settings.retentionDays)
          : undefined,
        poison.length > 0 ? parkPoison(deps, poison, now()) : 0,
      ]);
      markFailures += marking?.failed.length ?? 0;
      parked += parking;
      for (const failed of marking?.failed ?? [])
        deps.logger.warn('Could not mark republished event; it will be republished again', {
          eventId: failed.item.eventId,
          orderId: failed.item.aggregateId,
          errorCode: failed.errorCode,
        });
      for (const item of result.published)
        deps.logger.info('Stuck event republished', {
          eventId: item.eventId,
          orderId: item.aggregateId,
          occurredAt: item.occurredAt,
        });
    } while (startKey !== undefined);
    if (truncated) break;
  }

  // Emitted on every run, 0 included, so that an alarm on it always has data.
  deps.metrics.addMetric(MetricName.ReconcilerRepublished, MetricUnit.Count, republished);
  const report: ReconcileReport = {
    found,
    republished,
    retryable,
    parked,
    markFailures,
    ...(oldest === undefined ? {} : { oldestOccurredAt: oldest }),
    truncated,
  };
  deps.logger.info('Reconciler run finished', { ...report, thresholdSeconds: settings.thresholdSeconds });
  return report;
};

/** Poison queue first, then off the pending index: an item is parked only once its content is safe. */
const parkPoison = async (deps: ReconcilerDeps, records: PoisonRecord[], now: Date): Promise<number> => {
  const sent = await deps.poisonQueue.send(records);
  for (const failed of sent.failed)
    deps.logger.error('Poison queue rejected the message; the item stays pending', {
      eventId: failed.record.item?.eventId,
      errorCode: failed.errorCode,
    });
  for (const record of sent.sent)
    deps.logger.error('Event can never be published as it is; parked on the poison queue', {
      eventId: record.item?.eventId,
      orderId: record.item?.aggregateId,
      errorCode: record.errorCode,
      reason: record.reason,
    });
  const keys = sent.sent.flatMap((record) => (record.key ? [record.key] : []));
  if (keys.length === 0) return 0;
  const parking = await markParked(deps.doc, deps.tableName, keys, now);
  for (const failed of parking.failed)
    deps.logger.warn('Could not take a parked event off the pending index; the next run parks it again', {
      orderId: orderIdFromPk(failed.key.PK),
      sortKey: failed.key.SK,
      errorCode: failed.errorCode,
    });
  return parking.marked;
};
