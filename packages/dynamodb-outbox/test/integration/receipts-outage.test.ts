import { randomUUID } from 'node:crypto';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DeliveryReceipts } from '../../src/engine/delivery-tracking';
import { listingFor } from '../../src/engine/outbox-listing/listing-for';
import { TimeOrderedOutbox, WATERMARK_KEY } from '../../src/engine/pending-outbox';
import type { PoisonRecord } from '../../src/engine/poison-queue';
import { OutboxPublisher } from '../../src/engine/publisher';
import { type ReconcilerDeps, reconcile } from '../../src/engine/reconciler';
import { StuckEvents } from '../../src/engine/reconciler-retries';
import { buildRelayHandler } from '../../src/engine/wiring';
import { localClientConfig } from '../../src/local/clients';
import { createOutboxTable, type DynamoDbLocal, startDynamoDbLocal } from '../../src/local/dynamodb';
import { type LocalEventBus, startLocalEventBus } from '../../src/local/event-bus';
import { claimPort } from '../../src/local/ports';
import { latestStreamArn, StreamPoller } from '../../src/local/stream-poller';
import type { EventEnvelope } from '../../src/runtime/envelope';
import { relayFilterPattern, TIME_ORDERED_TABLE_LAYOUT } from '../../src/runtime/layout';
import { relaySettings } from '../../src/runtime/settings';
import { writtenWhenItOccurred } from '../support/outbox-items';

/*
 * Delivery tracking with receipts on a time-ordered outbox table, across a relay outage longer
 * than the stream keeps records: the relay's poller starts at LATEST after the first events were
 * written, so their stream records are gone for it, as records trimmed after 24 hours are. The
 * reconciler lists the table by time, compares with the relay's receipts, and brings exactly the
 * missing events to the bus.
 */

const layout = TIME_ORDERED_TABLE_LAYOUT;
const BUS_NAME = 'receipts-bus';
const SOURCE = 'test.receipts';
const POLL = { timeout: 20_000, interval: 50 } as const;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

const event = (n: number): EventEnvelope => ({
  eventId: randomUUID(),
  eventType: 'ThingHappened',
  aggregateType: 'Thing',
  aggregateId: `t${n}`,
  sequence: 1,
  occurredAt: new Date().toISOString(),
  schemaVersion: 1,
  payload: { n },
});

describe('receipts on a time-ordered table: relay outage past the stream retention', () => {
  let db: DynamoDbLocal;
  let bus: LocalEventBus;
  let poller: StreamPoller;
  let streams: DynamoDBStreamsClient;
  let eventBridge: EventBridgeClient;
  let sqs: SQSClient;
  let doc: DynamoDBDocumentClient;
  let deps: ReconcilerDeps;
  const table = `outbox-${randomUUID().slice(0, 8)}`;
  const writer = writtenWhenItOccurred({
    tableName: table,
    layout,
    deliveryTracking: true,
    retentionDays: 7,
  });
  const lost: EventEnvelope[] = [];
  const relayed: EventEnvelope[] = [];
  const parked: PoisonRecord[] = [];
  const probes: EventEnvelope[] = [];
  const write = (e: EventEnvelope) =>
    doc.send(new TransactWriteCommand({ TransactItems: writer.transaction([], [e]) }));

  beforeAll(async () => {
    db = await startDynamoDbLocal(await claimPort(0));
    bus = await startLocalEventBus({ port: 0, eventBusName: BUS_NAME });
    doc = DynamoDBDocumentClient.from(db.client);
    // The table as the construct creates it for this layout: its own key, a stream, no index.
    await createOutboxTable(db.client, table, layout);

    // Written while the relay is down; their records are never delivered to it.
    for (let i = 0; i < 30; i++) lost.push(event(i));
    for (const e of lost) await write(e);

    const settings = relaySettings.fromEnv(
      relaySettings.toEnv({
        eventBusName: BUS_NAME,
        source: SOURCE,
        poisonQueueUrl: `http://127.0.0.1:${await claimPort(0)}/000000000000/poison`,
        putEventsMaxBytes: 262_144,
        tableName: table,
        layout,
        deliveryTracking: true,
        retentionDays: 7,
      }),
    );
    eventBridge = new EventBridgeClient(localClientConfig(bus.endpoint));
    sqs = new SQSClient({ ...localClientConfig(settings.poisonQueueUrl), maxAttempts: 1 });
    streams = new DynamoDBStreamsClient(localClientConfig(db.endpoint));
    poller = new StreamPoller({
      client: streams,
      streamArn: await latestStreamArn(db.client, table),
      handler: buildRelayHandler({ settings, clients: { dynamoDb: db.client, eventBridge, sqs } }),
      filterPatterns: [relayFilterPattern(layout)],
      startingPosition: 'LATEST',
      reportBatchItemFailures: true,
      bisectBatchOnFunctionError: true,
      pollIntervalMs: 50,
      shardDiscoveryIntervalMs: 200,
    });
    poller.start();
    // The poller takes its LATEST position asynchronously: probe until the relay delivers, so that
    // the records of the 30 events are certainly behind it.
    await vi.waitFor(
      async () => {
        const probe = event(-1);
        probes.push(probe);
        await write(probe);
        expect(bus.stats.eventsAccepted).toBeGreaterThan(0);
      },
      { ...POLL, interval: 500 },
    );

    const tracker = new DeliveryReceipts(doc, { tableName: table, layout, retentionDays: 7 });
    deps = {
      pending: new TimeOrderedOutbox(doc, {
        tableName: table,
        layout,
        items: listingFor(doc, table, layout),
        receipts: tracker,
        lookbackSeconds: 3600,
      }),
      stuck: new StuckEvents(doc, { tableName: table, layout }),
      publisher: new OutboxPublisher({ eventBridge, eventBusName: BUS_NAME, source: SOURCE }),
      poisonQueue: {
        send: async (records) => {
          parked.push(...records);
          return { sent: [...records], failed: [] };
        },
      },
      tracker,
      settings: { thresholdSeconds: 60, maxItemsPerRun: 1000, pageSize: 7 },
      metrics: { addMetric: () => undefined },
      logger: quiet,
      // Two minutes from now: every event written by the test is past the 60 s threshold.
      now: () => new Date(Date.now() + 120_000),
    };
  });

  afterAll(async () => {
    await poller?.stop();
    streams?.destroy();
    eventBridge?.destroy();
    sqs?.destroy();
    await bus?.stop();
    await db?.stop();
  });

  const onBus = (events: readonly EventEnvelope[]) => {
    const counts = bus.detailEventIdCounts();
    return events.map((e) => counts.get(e.eventId) ?? 0);
  };

  it('the relay, back, publishes only what the stream still holds, with one receipt per invocation', async () => {
    // Act: events written once the relay is back.
    for (let i = 30; i < 35; i++) relayed.push(event(i));
    for (const e of relayed) await write(e);

    // Assess
    await vi.waitFor(() => expect(onBus(relayed)).toEqual([1, 1, 1, 1, 1]), POLL);
    expect(onBus(lost).every((n) => n === 0)).toBe(true);
    const tracker = new DeliveryReceipts(doc, { tableName: table, layout, retentionDays: 7 });
    const keys = [...lost, ...relayed].map((e) => writer.item(e));
    await vi.waitFor(
      async () =>
        expect(
          (await tracker.published(keys.map((k) => ({ key: { pk: String(k.pk), sk: String(k.sk) } }))))
            .length,
        ).toBe(5),
      POLL,
    );
    // The outbox items themselves are never updated: their TTL was armed at write time.
    const { Item } = await doc.send(
      new GetCommand({ TableName: table, Key: { pk: keys[30]?.pk, sk: keys[30]?.sk }, ConsistentRead: true }),
    );
    expect(Item).not.toHaveProperty('publishedAt');
    expect(Item?.[layout.timeToLiveAttribute]).toEqual(expect.any(Number));
  });

  it('the reconciler brings every lost event to the bus, once, and nothing the relay published', async () => {
    // Prepare: probes written before the poller took its position are lost too.
    const lostProbes = onBus(probes).filter((n) => n === 0).length;

    // Act
    const report = await reconcile(deps);
    await bus.idle();

    // Assess
    expect(report).toMatchObject({
      found: 30 + lostProbes,
      republished: 30 + lostProbes,
      retryable: 0,
      parked: 0,
      truncated: false,
    });
    expect(onBus(lost).every((n) => n === 1)).toBe(true);
    expect(onBus(relayed).every((n) => n === 1)).toBe(true);
    expect(onBus(probes).every((n) => n === 1)).toBe(true);
    expect(parked).toHaveLength(0);
  });

  it('records its own receipts and moves its watermark, so the next run finds nothing', async () => {
    // Act
    const report = await reconcile(deps);

    // Assess
    expect(report).toMatchObject({ found: 0, republished: 0, truncated: false });
    const { Item } = await doc.send(
      new GetCommand({
        TableName: table,
        Key: { pk: WATERMARK_KEY.partition, sk: WATERMARK_KEY.sort },
        ConsistentRead: true,
      }),
    );
    expect(Item?.bucket).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/);
    expect(bus.stats.eventsAccepted).toBe(35 + probes.length);
  });
});
