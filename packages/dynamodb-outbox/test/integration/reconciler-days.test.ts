import { randomUUID } from 'node:crypto';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryReceipts } from '../../src/engine/delivery-tracking';
import { listingFor } from '../../src/engine/outbox-listing/listing-for';
import { TimeOrderedOutbox, WATERMARK_KEY } from '../../src/engine/pending-outbox';
import type { PoisonRecord } from '../../src/engine/poison-queue';
import { OutboxPublisher, type PublishResult } from '../../src/engine/publisher';
import { RETRIES_EXHAUSTED, type ReconcileReport, reconcile } from '../../src/engine/reconciler';
import { DEFAULT_RETRY_POLICY, STUCK_PARTITION, StuckEvents } from '../../src/engine/reconciler-retries';
import { localClientConfig } from '../../src/local/clients';
import { createOutboxTable, type DynamoDbLocal } from '../../src/local/dynamodb';
import { type LocalEventBus, startLocalEventBus } from '../../src/local/event-bus';
import type { EventEnvelope } from '../../src/runtime/envelope';
import {
  type OutboxKey,
  TIME_ORDERED_TABLE_LAYOUT,
  type TimeOrderedLayout,
  timeBucketOf,
} from '../../src/runtime/layout';
import type { OutboxRecord } from '../../src/runtime/outbox-item';
import { startTestDynamoDb } from '../support/dynamodb-local';
import { writtenWhenItOccurred } from '../support/outbox-items';

/*
 * A day of reconciler runs on a simulated clock, every 5 minutes as the construct schedules it, on
 * DynamoDB Local and the local bus, with the relay down the whole time. Among the events: one the
 * bus fails on every attempt (poison in disguise: a retryable error each time), one it fails for
 * three hours, one past its TTL. The first is parked with its content after the retry policy's
 * attempts and alarmed; the second is published once, when the bus takes it; the third never. The
 * watermark reaches the cut-off's minute on every run, while they fail.
 */

/** One partition a minute: a run reads few partitions, so that a day of runs stays quick. */
const layout: TimeOrderedLayout = { ...TIME_ORDERED_TABLE_LAYOUT, shardCount: 1 };
const BUS_NAME = 'reconciler-days-bus';
const SOURCE = 'test.reconciler-days';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const THRESHOLD_SECONDS = 900;
const INTERVAL = 5 * MINUTE;
const RUNS = (24 * HOUR) / INTERVAL;
/**
 * The next hour of the real clock: DynamoDB Local deletes items past their TTL, so the simulated
 * day lies ahead of it, where every item's TTL (written + 7 days) is still to come.
 */
const T0 = (Math.floor(Date.now() / HOUR) + 1) * HOUR;
const at = (offsetMs: number) => new Date(T0 + offsetMs);
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

const event = (name: string, occurredAt: Date): EventEnvelope => ({
  eventId: `${name}-${randomUUID()}`,
  eventType: 'ThingHappened',
  aggregateType: 'Thing',
  aggregateId: name,
  sequence: 1,
  occurredAt: occurredAt.toISOString(),
  schemaVersion: 1,
  payload: { name },
});

describe('the reconciler over a simulated day, with the relay down', () => {
  let db: DynamoDbLocal;
  let bus: LocalEventBus;
  let eventBridge: EventBridgeClient;
  let doc: DynamoDBDocumentClient;
  const table = `outbox-${randomUUID().slice(0, 8)}`;
  const writer = writtenWhenItOccurred({
    tableName: table,
    layout,
    deliveryTracking: true,
    retentionDays: 7,
  });

  const missed = event('missed', at(2 * MINUTE));
  const relayed = event('relayed', at(3 * MINUTE));
  /** The bus fails it on every attempt, retryably. */
  const poison = event('poison', at(4 * MINUTE));
  /** The bus fails it until three hours in. */
  const flaky = event('flaky', at(6 * MINUTE));
  const FLAKY_UNTIL = at(3 * HOUR);
  /** Past its TTL two minutes after it was written (on the simulated clock); not yet deleted. */
  const expired = event('expired', at(7 * MINUTE));
  /** One event every two hours the relay missed as well. */
  const later = Array.from({ length: 11 }, (_, n) => event(`later-${n}`, at((n + 1) * 2 * HOUR + 30_000)));

  const attempts = new Map<string, Date[]>();
  const parked: PoisonRecord[] = [];
  const metrics: Array<{ at: Date; name: string; value: number }> = [];
  const runs: Array<{ now: Date; report: ReconcileReport; watermark: unknown }> = [];

  const keyOf = (e: EventEnvelope): OutboxKey => {
    const item = writer.item(e);
    return { pk: String(item.pk), sk: String(item.sk) };
  };

  /** The bus as the test wants it at `now`: the poison always fails, the flaky one until FLAKY_UNTIL. */
  const failingBus = (real: OutboxPublisher, now: Date) => ({
    publish: async (records: readonly OutboxRecord[]): Promise<PublishResult> => {
      const fails = (r: OutboxRecord) =>
        r.envelope.aggregateId === 'poison' || (r.envelope.aggregateId === 'flaky' && now < FLAKY_UNTIL);
      for (const r of records)
        attempts.set(r.envelope.aggregateId, [...(attempts.get(r.envelope.aggregateId) ?? []), now]);
      const passing = records.flatMap((r, i) => (fails(r) ? [] : [i]));
      const result = await real.publish(passing.map((i) => records[i] as OutboxRecord));
      const at = (index: number) => passing[index] as number;
      return {
        published: result.published.map(at),
        retryable: [
          ...records.flatMap((r, index) =>
            fails(r)
              ? [{ index, errorCode: 'InternalFailure', errorMessage: 'the bus failed this entry' }]
              : [],
          ),
          ...result.retryable.map((f) => ({ ...f, index: at(f.index) })),
        ].sort((a, b) => a.index - b.index),
        poison: result.poison.map((f) => ({ ...f, index: at(f.index) })),
      };
    },
  });

  const runAt = async (now: Date): Promise<ReconcileReport> => {
    const tracker = new DeliveryReceipts(doc, { tableName: table, layout, retentionDays: 7 });
    return reconcile({
      pending: new TimeOrderedOutbox(doc, {
        tableName: table,
        layout,
        items: listingFor(doc, table, layout),
        receipts: tracker,
        lookbackSeconds: 3600,
        now: () => now,
      }),
      stuck: new StuckEvents(doc, { tableName: table, layout }),
      publisher: failingBus(
        new OutboxPublisher({ eventBridge, eventBusName: BUS_NAME, source: SOURCE }),
        now,
      ),
      poisonQueue: {
        send: async (records) => {
          parked.push(...records);
          return { sent: [...records], failed: [] };
        },
      },
      tracker,
      settings: { thresholdSeconds: THRESHOLD_SECONDS, maxItemsPerRun: 100, pageSize: 100 },
      metrics: { addMetric: (name, _unit, value) => metrics.push({ at: now, name, value }) },
      logger: quiet,
      now: () => now,
    });
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

  const stuckEntries = async () =>
    (
      await doc.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': STUCK_PARTITION },
          ConsistentRead: true,
        }),
      )
    ).Items ?? [];

  const onBus = (list: readonly EventEnvelope[]) => {
    const counts = bus.detailEventIdCounts();
    return list.map((e) => counts.get(e.eventId) ?? 0);
  };

  beforeAll(async () => {
    db = await startTestDynamoDb();
    bus = await startLocalEventBus({ port: 0, eventBusName: BUS_NAME });
    eventBridge = new EventBridgeClient(localClientConfig(bus.endpoint));
    doc = DynamoDBDocumentClient.from(db.client);
    await createOutboxTable(db.client, table, layout);
    for (const e of [missed, relayed, poison, flaky, ...later])
      await doc.send(new PutCommand({ TableName: table, Item: writer.item(e) }));
    await doc.send(
      new PutCommand({
        TableName: table,
        Item: {
          ...writer.item(expired),
          [layout.timeToLiveAttribute]: Math.floor(at(9 * MINUTE).getTime() / 1000),
        },
      }),
    );
    // The relay published one event before it went down.
    await new DeliveryReceipts(doc, { tableName: table, layout, retentionDays: 7 }).markPublished(
      [{ key: keyOf(relayed) }],
      at(3 * MINUTE),
    );

    // A day of runs, every 5 minutes.
    for (let n = 1; n <= RUNS; n++) {
      const now = at(n * INTERVAL);
      const report = await runAt(now);
      runs.push({ now, report, watermark: await watermark() });
    }
  }, 480_000);

  afterAll(async () => {
    eventBridge?.destroy();
    await bus?.stop();
    await db?.stop();
  });

  it('the watermark reaches the cut-off on every run, whatever fails meanwhile', () => {
    expect(runs).toHaveLength(288);
    for (const { now, report, watermark } of runs) {
      expect(report.truncated).toBe(false);
      expect(watermark).toBe(timeBucketOf(new Date(now.getTime() - THRESHOLD_SECONDS * 1000).toISOString()));
    }
  });

  it('parks the event that fails on every attempt after the policy’s attempts, with its content, and alarms', async () => {
    // Attempts 20 min in (its first run past the threshold), then after 5, 10, 20, 40, 80, 160
    // minutes, then every 240: the 10th, 17 h 35 min in, parks it.
    const minutesIn = (attempts.get('poison') ?? []).map((d) => (d.getTime() - T0) / MINUTE);
    expect(minutesIn).toEqual([20, 25, 35, 55, 95, 175, 335, 575, 815, 1055]);
    expect(minutesIn).toHaveLength(DEFAULT_RETRY_POLICY.maxAttempts);

    expect(parked).toHaveLength(1);
    expect(parked[0]).toMatchObject({
      errorCode: RETRIES_EXHAUSTED,
      key: keyOf(poison),
      envelope: poison,
      item: writer.item(poison),
    });
    expect(parked[0]?.reason).toBe(
      `Failed retryably on 10 reconciler runs since ${at(20 * MINUTE).toISOString()}; last error InternalFailure: the bus failed this entry`,
    );
    const parkedBy = runs.find(({ report }) => report.parkedAfterRetries > 0);
    expect(parkedBy?.now).toEqual(at(1055 * MINUTE));
    expect(metrics.filter((m) => m.name === 'ReconcilerParkedAfterRetries' && m.value > 0)).toEqual([
      { at: at(1055 * MINUTE), name: 'ReconcilerParkedAfterRetries', value: 1 },
    ]);
    // Stuck (and so on the alarm's metric) from its first failure to its parking.
    const stuckAt = metrics.filter((m) => m.name === 'ReconcilerStuckEvents' && m.value > 0).map((m) => m.at);
    expect(stuckAt[0]).toEqual(at(20 * MINUTE));
    expect(stuckAt.at(-1)).toEqual(at(1050 * MINUTE));
    expect(onBus([poison])).toEqual([0]);
  });

  it('publishes the event that failed for three hours once, when the bus takes it, and forgets its retries', async () => {
    const minutesIn = (attempts.get('flaky') ?? []).map((d) => (d.getTime() - T0) / MINUTE);
    expect(minutesIn).toEqual([25, 30, 40, 60, 100, 180]);
    expect(onBus([flaky])).toEqual([1]);
    expect(await stuckEntries()).toEqual([]);
  });

  it('never republishes the expired event, nor the one the relay published; the rest once each', () => {
    expect(attempts.get('expired')).toBeUndefined();
    expect(onBus([expired, relayed])).toEqual([0, 0]);
    expect(onBus([missed, ...later])).toEqual([missed, ...later].map(() => 1));
    expect(bus.stats.eventsAccepted).toBe(2 + later.length);
    expect(runs.reduce((sum, { report }) => sum + report.republished, 0)).toBe(2 + later.length);
  });
});
