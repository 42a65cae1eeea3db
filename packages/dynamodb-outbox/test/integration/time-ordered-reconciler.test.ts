import { randomUUID } from 'node:crypto';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryReceipts } from '../../src/engine/delivery-tracking';
import { listingFor } from '../../src/engine/outbox-listing/listing-for';
import { type PendingSource, TimeOrderedOutbox, WATERMARK_KEY } from '../../src/engine/pending-outbox';
import type { PoisonRecord } from '../../src/engine/poison-queue';
import { OutboxPublisher } from '../../src/engine/publisher';
import { type ReconcileReport, reconcile } from '../../src/engine/reconciler';
import { StuckEvents } from '../../src/engine/reconciler-retries';
import { localClientConfig } from '../../src/local/clients';
import { createOutboxTable, type DynamoDbLocal } from '../../src/local/dynamodb';
import { type LocalEventBus, startLocalEventBus } from '../../src/local/event-bus';
import type { EventEnvelope } from '../../src/runtime/envelope';
import { type OutboxKey, TIME_ORDERED_TABLE_LAYOUT, timeBucketOf } from '../../src/runtime/layout';
import { startTestDynamoDb } from '../support/dynamodb-local';
import { writtenWhenItOccurred } from '../support/outbox-items';

/*
 * A first reconciler run on a time-ordered outbox table, spread over several runs by small budgets
 * (items per run and pages per run), on DynamoDB Local and the local bus. Events occurred over ten
 * minutes in the past; the relay's receipts list some of them, and one is past its TTL. Each run
 * resumes at the watermark the previous one saved, until one is no longer cut short: by then every
 * event no receipt lists is on the bus exactly once, and the watermark stands at the minute of the
 * threshold.
 */

const layout = TIME_ORDERED_TABLE_LAYOUT;
const BUS_NAME = 'time-ordered-bus';
const SOURCE = 'test.time-ordered';
const MINUTE = 60_000;
const THRESHOLD_SECONDS = 60;
/** Twenty minutes before the current minute: every event below occurred in the past. */
const BASE = Math.floor(Date.now() / MINUTE) * MINUTE - 20 * MINUTE;
const at = (offsetSeconds: number) => new Date(BASE + offsetSeconds * 1000);
/** The reconciler's clock: 12 min 30 s after BASE, so its cut-off (NOW - 60 s) is at 11 min 30 s. */
const NOW = at(12 * 60 + 30);
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

const event = (n: number, occurredAt: Date): EventEnvelope => ({
  eventId: randomUUID(),
  eventType: 'ThingHappened',
  aggregateType: 'Thing',
  aggregateId: `t${n}`,
  sequence: 1,
  occurredAt: occurredAt.toISOString(),
  schemaVersion: 1,
  payload: { n },
});

/** Pages a run has time for: a minute is eight shards, a page each at least, so about a minute and a half. */
const PAGES_PER_RUN = 12;
const timeFor = (pages: number) => {
  let left = pages;
  return () => left-- > 0;
};

describe('reconciler on a time-ordered table: a first run spread over several by its budget', () => {
  let db: DynamoDbLocal;
  let bus: LocalEventBus;
  let eventBridge: EventBridgeClient;
  let doc: DynamoDBDocumentClient;
  let tracker: DeliveryReceipts;
  const table = `outbox-${randomUUID().slice(0, 8)}`;
  const writer = writtenWhenItOccurred({
    tableName: table,
    layout,
    deliveryTracking: true,
    retentionDays: 7,
  });
  /** One event every 25 s from BASE on: 24 of them, over minutes 0 to 9. */
  const events = Array.from({ length: 24 }, (_, n) => event(n, at(n * 25)));
  const relayed = events.filter((_, n) => n % 3 === 0);
  const parked = events.filter((_, n) => n === 4);
  const missing = events.filter((e) => !relayed.includes(e) && !parked.includes(e));
  /** Unreceipted, but occurred after the cut-off: the relay's to publish, not yet the reconciler's. */
  const young = event(100, at(11 * 60 + 45));
  /** Unreceipted, but past its TTL: DynamoDB Local never deletes it, as TTL may not have yet. */
  const expired = event(200, at(5 * 60 + 10));
  const poisoned: PoisonRecord[] = [];

  const keyOf = (e: EventEnvelope): OutboxKey => {
    const item = writer.item(e);
    return { pk: String(item.pk), sk: String(item.sk) };
  };

  const watermark = async (): Promise<unknown> => {
    const { Item } = await doc.send(
      new GetCommand({
        TableName: table,
        Key: { pk: WATERMARK_KEY.partition, sk: WATERMARK_KEY.sort },
        ConsistentRead: true,
      }),
    );
    return Item?.bucket;
  };

  /** One reconciler run at `now`, recording the partitions it reads, in order. */
  const run = async (
    now: Date,
    pagesRead: string[],
    hasTimeLeft: () => boolean,
  ): Promise<ReconcileReport> => {
    const outbox = new TimeOrderedOutbox(doc, {
      tableName: table,
      layout,
      items: listingFor(doc, table, layout),
      receipts: tracker,
      // Back to before the first event: the test's stand-in for retentionDays.
      lookbackSeconds: 15 * 60,
      now: () => now,
    });
    const pending: PendingSource = {
      shards: (before) => outbox.shards(before),
      page: (shard, before, limit, startKey) => {
        pagesRead.push(shard);
        return outbox.page(shard, before, limit, startKey);
      },
      settled: (before, firstUnsettled) => outbox.settled(before, firstUnsettled),
    };
    return reconcile(
      {
        pending,
        stuck: new StuckEvents(doc, { tableName: table, layout }),
        publisher: new OutboxPublisher({ eventBridge, eventBusName: BUS_NAME, source: SOURCE }),
        poisonQueue: {
          send: async (records) => {
            poisoned.push(...records);
            return { sent: [...records], failed: [] };
          },
        },
        tracker,
        settings: { thresholdSeconds: THRESHOLD_SECONDS, maxItemsPerRun: 4, pageSize: 3 },
        metrics: { addMetric: () => undefined },
        logger: quiet,
        now: () => now,
      },
      hasTimeLeft,
    );
  };

  const onBus = (list: readonly EventEnvelope[]) => {
    const counts = bus.detailEventIdCounts();
    return list.map((e) => counts.get(e.eventId) ?? 0);
  };

  beforeAll(async () => {
    db = await startTestDynamoDb();
    bus = await startLocalEventBus({ port: 0, eventBusName: BUS_NAME });
    eventBridge = new EventBridgeClient(localClientConfig(bus.endpoint));
    doc = DynamoDBDocumentClient.from(db.client);
    tracker = new DeliveryReceipts(doc, { tableName: table, layout, retentionDays: 7 });
    // The table as the construct creates it for this layout: its own key, a stream, no index.
    await createOutboxTable(db.client, table, layout);
    for (const e of [...events, young])
      await doc.send(new TransactWriteCommand({ TransactItems: writer.transaction([], [e]) }));
    await doc.send(
      new PutCommand({
        TableName: table,
        Item: { ...writer.item(expired), [layout.timeToLiveAttribute]: Math.floor(NOW.getTime() / 1000) },
      }),
    );
    // What the relay recorded before it went down: receipts, as it writes them.
    await tracker.markPublished(
      relayed.map((e) => ({ key: keyOf(e) })),
      at(10 * 60),
    );
    await tracker.markParked(
      parked.map((e) => ({ key: keyOf(e) })),
      at(10 * 60),
    );
  });

  afterAll(async () => {
    eventBridge?.destroy();
    await bus?.stop();
    await db?.stop();
  });

  it('runs resume where the previous one stopped until caught up; each missing event is published once', async () => {
    // Act: run after run, as the schedule would, each cut short by its budgets.
    const runs: Array<{ report: ReconcileReport; pagesRead: string[]; watermark: unknown }> = [];
    do {
      const pagesRead: string[] = [];
      const report = await run(NOW, pagesRead, timeFor(PAGES_PER_RUN));
      runs.push({ report, pagesRead, watermark: await watermark() });
    } while (runs.at(-1)?.report.truncated && runs.length < 50);

    // Assess: spread over runs, and caught up.
    expect(runs.length).toBeGreaterThan(3);
    expect(runs.length).toBeLessThan(50);
    expect(runs.at(-1)?.report.truncated).toBe(false);
    // Most runs run out of pages; at least one spends its items (4) first.
    expect(runs.some(({ report }) => report.truncated && report.found === 4)).toBe(true);
    // The first run starts 15 minutes before NOW; each next one at the minute the previous saved,
    // and never reads a minute before it.
    const minuteOf = (shard: string) => shard.slice(0, shard.lastIndexOf('#'));
    expect(runs[0]?.pagesRead[0]).toBe(`${timeBucketOf(at(-150).toISOString())}#0`);
    for (let i = 1; i < runs.length; i++) {
      const saved = String(runs[i - 1]?.watermark);
      expect(runs[i]?.pagesRead[0]).toBe(`${saved}#0`);
      expect(runs[i]?.pagesRead.every((shard) => minuteOf(shard) >= saved)).toBe(true);
      expect(saved <= String(runs[i]?.watermark)).toBe(true);
    }

    // Every event no receipt listed, once; none the relay published or parked; neither the young
    // one nor the expired one.
    expect(onBus(missing)).toEqual(missing.map(() => 1));
    expect(onBus(relayed)).toEqual(relayed.map(() => 0));
    expect(onBus(parked)).toEqual([0]);
    expect(onBus([young, expired])).toEqual([0, 0]);
    expect(bus.stats.eventsAccepted).toBe(missing.length);
    expect(runs.reduce((sum, r) => sum + r.report.republished, 0)).toBe(missing.length);
    expect(poisoned).toHaveLength(0);
    // The watermark stands at the cut-off's minute, 11 min after BASE: the young event's minute.
    expect(await watermark()).toBe(timeBucketOf(at(11 * 60).toISOString()));
    expect(timeBucketOf(young.occurredAt)).toBe(await watermark());
  });

  it('a later run, from the watermark, publishes the young event once it is old enough', async () => {
    // Act: two minutes later, no budget to speak of.
    const pagesRead: string[] = [];
    const report = await run(new Date(NOW.getTime() + 2 * MINUTE), pagesRead, () => true);

    // Assess
    expect(report).toMatchObject({ found: 1, republished: 1, truncated: false });
    expect(onBus([young])).toEqual([1]);
    expect(onBus(missing)).toEqual(missing.map(() => 1));
    expect(bus.stats.eventsAccepted).toBe(missing.length + 1);
    expect(new Set(pagesRead.map((shard) => shard.slice(0, shard.lastIndexOf('#'))))).toEqual(
      new Set([11, 12, 13].map((m) => timeBucketOf(at(m * 60).toISOString()))),
    );
    expect(await watermark()).toBe(timeBucketOf(at(13 * 60).toISOString()));
  });
});
