import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import * as z from 'zod';
import { OUTBOX_SK_PREFIX, orderIdFromPk } from '../shared/keys';
import { MetricName } from '../shared/metric-names';
import { invalidOutboxItemReason, type OutboxItem, outboxItemSchema } from '../shared/outbox-event';
import { logger, metrics } from '../shared/powertools';
import { ordersTable } from '../shared/table-definition';
import { type MarkParkedResult, markParked, markPublished } from './delivery-tracking';
import type { PoisonQueue, PoisonRecord, PoisonSendResult } from './poison-queue';
import type { LogSink, MetricsSink, OutboxPublisher } from './publisher';

export type DeliveryTracking =
  | { readonly enabled: false }
  | {
      readonly enabled: true;
      readonly doc: DynamoDBDocumentClient;
      readonly tableName: string;
      readonly retentionDays: number;
    };

export interface RelayDeps {
  readonly publisher: Pick<OutboxPublisher, 'publish'>;
  readonly poisonQueue: Pick<PoisonQueue, 'send'>;
  readonly tracking: DeliveryTracking;
  readonly metrics?: MetricsSink;
  readonly logger?: LogSink;
  readonly now?: () => Date;
}

/** Error code of a stream record that is an outbox INSERT but not a valid outbox item. */
export const MALFORMED_ITEM = 'MalformedItem';

/**
 * A stream image (DynamoDB JSON) unmarshalled, then checked as an outbox item. The SDK's
 * unmarshall turns numbers beyond 2^53 into BigInt, as Powertools' DynamoDBMarshalled does; the
 * latter is not used because it imports zod as `{ z }`, which bundles all of zod (~440 KB).
 */
const outboxImageSchema = z
  .record(z.string(), z.custom<AttributeValue>())
  .transform((image, ctx) => {
    try {
      return unmarshall(image);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'Could not unmarshall DynamoDB stream record' });
      return z.NEVER;
    }
  })
  .pipe(outboxItemSchema);

interface Candidate {
  readonly index: number;
  readonly item: OutboxItem;
}

interface PoisonAt {
  readonly index: number;
  readonly record: PoisonRecord;
}

const streamPosition = (record: DynamoDBRecord): PoisonRecord['stream'] => {
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
 * The relay use case for one stream batch: publish every outbox INSERT, park what can never be
 * published on the poison queue, mark published and parked items (delivery tracking), and tell
 * Lambda where to resume.
 *
 * Why not Powertools BatchProcessor: it hands records to a handler one at a time, while
 * PutEvents takes up to 10 entries per call and the whole point is to pack a batch into as
 * few calls as possible. So the relay publishes the batch as a whole and maps the per-entry
 * results back to stream records itself.
 *
 * Partial batch response for DynamoDB streams
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html):
 * `{ batchItemFailures: [{ itemIdentifier: <SequenceNumber> }] }`; "if the batchItemFailures
 * array contains multiple items, Lambda uses the record with the lowest sequence number as the
 * checkpoint. Lambda then retries all records starting from that checkpoint." With
 * BisectBatchOnFunctionError on, the batch is split at the returned sequence number. So the
 * relay reports only the FIRST record (in stream order) that must be retried: everything
 * before it is done, everything from it on comes again, in order. Records after that point
 * that were published anyway will be published again (consumers deduplicate on eventId);
 * poison records after it are not sent to the queue now, because they will come back.
 */
export const createRelayHandler = (deps: RelayDeps) => {
  const log = deps.logger ?? logger;
  const metricsSink = deps.metrics ?? metrics;
  const now = deps.now ?? (() => new Date());

  /**
   * Poison queue first, then (delivery tracking) off the pending index: an item is parked only
   * once its content is safe on the queue, and a parked item is not republished by the
   * reconciler, which would otherwise hit the same poison and queue a second message for it.
   */
  const sendPoison = async (
    records: PoisonRecord[],
  ): Promise<{ sendResult?: PoisonSendResult; parking?: MarkParkedResult }> => {
    if (records.length === 0) return {};
    const sendResult = await deps.poisonQueue.send(records);
    const { tracking } = deps;
    const keys = sendResult.sent.flatMap((record) => (record.key ? [record.key] : []));
    if (!tracking.enabled || keys.length === 0) return { sendResult };
    const parking = await markParked(tracking.doc, tracking.tableName, keys, now());
    return { sendResult, parking };
  };

  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const records = event.Records ?? [];
    const candidates: Candidate[] = [];
    const poison: PoisonAt[] = [];
    let ignored = 0;

    records.forEach((record, index) => {
      const keys = record.dynamodb?.Keys;
      const sk = keys?.[ordersTable.sortKey]?.S;
      // The mapping's filter already drops these; checked again so that a missing or changed
      // filter can never turn an order update or a TTL deletion into an event.
      if (record.eventName !== 'INSERT' || sk === undefined || !sk.startsWith(OUTBOX_SK_PREFIX)) {
        ignored++;
        return;
      }
      const pk = keys?.[ordersTable.partitionKey]?.S;
      const key = pk === undefined ? undefined : { PK: pk, SK: sk };
      const image = record.dynamodb?.NewImage;
      const parsed = image === undefined ? undefined : outboxImageSchema.safeParse(image);
      if (parsed?.success) {
        candidates.push({ index, item: parsed.data });
        return;
      }
      poison.push({
        index,
        record: {
          errorCode: MALFORMED_ITEM,
          reason: parsed ? invalidOutboxItemReason(parsed.error) : 'INSERT without NewImage',
          ...(key ? { key } : {}),
          ...(image ? { image: image as Record<string, unknown> } : {}),
          stream: streamPosition(record),
        },
      });
    });
    const malformed = poison.length;
    if (malformed > 0) metricsSink.addMetric(MetricName.PoisonEvents, MetricUnit.Count, malformed);

    const result = await deps.publisher.publish(candidates.map((c) => c.item));
    const indexOf = new Map(candidates.map((c) => [c.item, c.index]));
    const at = (item: OutboxItem): number => indexOf.get(item) ?? -1;

    let retryFrom = Number.POSITIVE_INFINITY;
    for (const failed of result.retryable) {
      retryFrom = Math.min(retryFrom, at(failed.item));
      log.warn('Publish failed, will retry', {
        eventId: failed.item.eventId,
        orderId: failed.item.aggregateId,
        errorCode: failed.errorCode,
        errorMessage: failed.errorMessage,
      });
    }
    for (const failed of result.poison) {
      const index = at(failed.item);
      const record = records[index];
      poison.push({
        index,
        record: {
          errorCode: failed.errorCode,
          reason: failed.errorMessage,
          key: { PK: failed.item.PK, SK: failed.item.SK },
          item: failed.item,
          stream: record ? streamPosition(record) : undefined,
        },
      });
    }

    const toPark = poison.filter((p) => p.index < retryFrom).sort((a, b) => a.index - b.index);
    const [{ sendResult, parking }, marking] = await Promise.all([
      sendPoison(toPark.map((p) => p.record)),
      deps.tracking.enabled && result.published.length > 0
        ? markPublished(
            deps.tracking.doc,
            deps.tracking.tableName,
            result.published,
            now(),
            deps.tracking.retentionDays,
          )
        : undefined,
    ]);

    const parkedIndex = new Map(toPark.map((p) => [p.record, p.index]));
    for (const p of toPark) {
      log.error('Poison event parked on the dead-letter queue', {
        eventId: p.record.item?.eventId,
        orderId: p.record.item?.aggregateId ?? orderIdFromPk(p.record.key?.PK),
        errorCode: p.record.errorCode,
        reason: p.record.reason,
        sequenceNumber: p.record.stream?.sequenceNumber,
      });
    }
    for (const failed of sendResult?.failed ?? []) {
      retryFrom = Math.min(retryFrom, parkedIndex.get(failed.record) ?? -1);
      log.error('Poison queue rejected the message, will retry the record', {
        eventId: failed.record.item?.eventId,
        orderId: failed.record.item?.aggregateId ?? orderIdFromPk(failed.record.key?.PK),
        errorCode: failed.errorCode,
        errorMessage: failed.errorMessage,
      });
    }
    for (const failed of parking?.failed ?? []) {
      log.warn('Could not take a parked event off the pending index; the reconciler will park it', {
        orderId: orderIdFromPk(failed.key.PK),
        sortKey: failed.key.SK,
        errorCode: failed.errorCode,
      });
    }
    for (const failed of marking?.failed ?? []) {
      log.warn('Could not mark event published; the reconciler will republish it', {
        eventId: failed.item.eventId,
        orderId: failed.item.aggregateId,
        errorCode: failed.errorCode,
      });
    }

    let batchItemFailures: DynamoDBBatchResponse['batchItemFailures'] = [];
    if (retryFrom !== Number.POSITIVE_INFINITY) {
      const sequenceNumber = records[retryFrom]?.dynamodb?.SequenceNumber;
      // Without a sequence number there is no checkpoint to name: fail the whole batch instead.
      if (sequenceNumber === undefined) throw new Error('A record to retry has no sequence number');
      batchItemFailures = [{ itemIdentifier: sequenceNumber }];
    }

    const publishedAt = now().getTime();
    const maxLagMs = result.published.reduce(
      (max, item) => Math.max(max, publishedAt - Date.parse(item.occurredAt)),
      0,
    );
    log.info('Outbox batch relayed', {
      records: records.length,
      ignored,
      outboxInserts: candidates.length + malformed,
      published: result.published.length,
      retryable: result.retryable.length,
      poison: poison.length,
      parked: sendResult?.sent.length ?? 0,
      parkFailures: sendResult?.failed.length ?? 0,
      markedParked: parking?.marked ?? 0,
      markParkedFailures: parking?.failed.length ?? 0,
      markedPublished: marking?.marked ?? 0,
      markFailures: marking?.failed.length ?? 0,
      maxLagMs,
      retryFromSequenceNumber: batchItemFailures[0]?.itemIdentifier,
    });
    return { batchItemFailures };
  };
};
