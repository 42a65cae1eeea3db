import { randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryReceipts } from '../../src/engine/delivery-tracking';
import { listingFor } from '../../src/engine/outbox-listing/listing-for';
import { TimeOrderedOutbox } from '../../src/engine/pending-outbox';
import type { Publishable } from '../../src/engine/publisher';
import { reconcile } from '../../src/engine/reconciler';
import { StuckEvents } from '../../src/engine/reconciler-retries';
import { createOutboxTable, type DynamoDbLocal } from '../../src/local/dynamodb';
import type { EventEnvelope } from '../../src/runtime/envelope';
import { outboxKeyOf, TIME_ORDERED_TABLE_LAYOUT, type TimeOrderedLayout } from '../../src/runtime/layout';
import { startTestDynamoDb } from '../support/dynamodb-local';
import { writtenWhenItOccurred } from '../support/outbox-items';

/*
 * A time-ordered outbox table with 64 shards, on DynamoDB Local: one event in each of a minute's
 * 64 partitions. The reconciler's listing reads every one of them, and so does a layout whose
 * shardCount was lowered to 8 but that still lists the 64 it had (`previousShardCount`); a layout
 * lowered without it would miss 56 of them, which is why that field exists.
 */

const WIDE: TimeOrderedLayout = { ...TIME_ORDERED_TABLE_LAYOUT, shardCount: 64 };
const MINUTE = 60_000;
/** Five minutes ago, at 10 s past the minute: one minute's bucket, well past the threshold. */
const WRITTEN_AT = new Date(Math.floor(Date.now() / MINUTE) * MINUTE - 5 * MINUTE + 10_000);
const NOW = new Date();
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

const event = (aggregateId: string, offsetMs: number): EventEnvelope => ({
  eventId: randomUUID(),
  eventType: 'ThingHappened',
  aggregateType: 'Thing',
  aggregateId,
  sequence: 1,
  occurredAt: new Date(WRITTEN_AT.getTime() + offsetMs).toISOString(),
  schemaVersion: 1,
  payload: { aggregateId },
});

const shardOf = (layout: TimeOrderedLayout, aggregateId: string): number => {
  const key = outboxKeyOf(
    layout,
    { aggregateType: 'Thing', aggregateId, sequence: 1 },
    { writtenAt: WRITTEN_AT },
  );
  const partition = String(key[layout.partitionKey]);
  return Number(partition.slice(partition.lastIndexOf('#') + 1));
};

/** The first aggregate id (t0, t1, …) that lands in each shard: one event per partition. */
const aggregatePerShard = (layout: TimeOrderedLayout): string[] => {
  const byShard = new Map<number, string>();
  for (let n = 0; byShard.size < layout.shardCount; n++) {
    const id = `t${n}`;
    const shard = shardOf(layout, id);
    if (!byShard.has(shard)) byShard.set(shard, id);
  }
  return [...byShard.entries()].sort(([a], [b]) => a - b).map(([, id]) => id);
};

describe('a time-ordered outbox with 64 shards', () => {
  let db: DynamoDbLocal;
  let doc: DynamoDBDocumentClient;
  let tracker: DeliveryReceipts;
  const table = `outbox-${randomUUID().slice(0, 8)}`;
  const writer = writtenWhenItOccurred({
    tableName: table,
    layout: WIDE,
    deliveryTracking: true,
    retentionDays: 7,
  });
  const events = aggregatePerShard(WIDE).map((id, n) => event(id, n * 100));

  /** What the reconciler's listing finds unpublished with `layout`: every page of every partition. */
  const listed = async (layout: TimeOrderedLayout): Promise<string[]> => {
    const outbox = new TimeOrderedOutbox(doc, {
      tableName: table,
      layout,
      items: listingFor(doc, table, layout),
      receipts: tracker,
      lookbackSeconds: 10 * 60,
      now: () => NOW,
    });
    const before = new Date(NOW.getTime() - MINUTE).toISOString();
    const found: string[] = [];
    for (const shard of await outbox.shards(before)) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await outbox.page(shard, before, 25, startKey);
        found.push(...page.records.map((record) => record.envelope.eventId));
        startKey = page.nextKey;
      } while (startKey !== undefined);
    }
    return found.sort();
  };

  beforeAll(async () => {
    db = await startTestDynamoDb();
    doc = DynamoDBDocumentClient.from(db.client);
    tracker = new DeliveryReceipts(doc, { tableName: table, layout: WIDE, retentionDays: 7 });
    await createOutboxTable(db.client, table, WIDE);
    for (const e of events)
      await doc.send(new TransactWriteCommand({ TransactItems: writer.transaction([], [e]) }));
  });

  afterAll(async () => {
    await db?.stop();
  });

  it('the writer spreads the events over all 64 partitions of their minute', () => {
    const partitions = new Set(events.map((e) => String(writer.item(e)[WIDE.partitionKey])));
    expect(partitions.size).toBe(64);
    expect(events.map((e) => shardOf(WIDE, e.aggregateId))).toEqual(Array.from({ length: 64 }, (_, i) => i));
  });

  it('the listing finds the event in every shard; lowered to 8, it still does while it lists the previous 64', async () => {
    const all = events.map((e) => e.eventId).sort();
    expect(await listed(WIDE)).toEqual(all);
    expect(await listed({ ...WIDE, shardCount: 8, previousShardCount: 64 })).toEqual(all);
    // Without the previous count, the 56 items in shards 8 to 63 would be out of its sight.
    expect(await listed({ ...WIDE, shardCount: 8 })).toHaveLength(8);
  });

  it('the reconciler republishes the event of every shard, once', async () => {
    const published: Publishable[] = [];
    const report = await reconcile({
      pending: new TimeOrderedOutbox(doc, {
        tableName: table,
        layout: WIDE,
        items: listingFor(doc, table, WIDE),
        receipts: tracker,
        lookbackSeconds: 10 * 60,
        now: () => NOW,
      }),
      publisher: {
        publish: async (records) => {
          published.push(...records);
          return { published: records.map((_, index) => index), retryable: [], poison: [] };
        },
      },
      poisonQueue: { send: async (records) => ({ sent: [...records], failed: [] }) },
      tracker,
      stuck: new StuckEvents(doc, { tableName: table, layout: WIDE }),
      settings: { thresholdSeconds: 60, maxItemsPerRun: 1000, pageSize: 25 },
      metrics: { addMetric: () => undefined },
      logger: quiet,
      now: () => NOW,
    });

    expect(report).toMatchObject({ found: 64, republished: 64, parked: 0, truncated: false });
    expect(published.map((record) => record.envelope.eventId).sort()).toEqual(
      events.map((e) => e.eventId).sort(),
    );
    // Their receipts now list them: the listing finds nothing left.
    expect(await listed(WIDE)).toEqual([]);
  });
});
