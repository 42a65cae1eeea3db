import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandInput,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { SendMessageBatchCommand, type SendMessageBatchCommandInput, SQSClient } from '@aws-sdk/client-sqs';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildReconcilerHandler, buildRelayHandler, type OutboxClients } from '../../../src/engine/wiring';
import type { EventEnvelope } from '../../../src/runtime/envelope';
import type { ReconcilerSettings, RelaySettings } from '../../../src/runtime/settings';
import { keyOf, OTHER_LAYOUT, outboxItem, streamEvent, streamRecord } from '../../support/unit';

const eventBridgeMock = mockClient(EventBridgeClient);
const sqsMock = mockClient(SQSClient);
const docMock = mockClient(DynamoDBDocumentClient);
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/service-poison';

const clients = (): OutboxClients => ({
  dynamoDb: new DynamoDBClient({}),
  eventBridge: new EventBridgeClient({}),
  sqs: new SQSClient({}),
});

const relaySettings = (overrides: Partial<RelaySettings> = {}): RelaySettings => ({
  eventBusName: 'service-bus',
  source: 'service',
  poisonQueueUrl: QUEUE_URL,
  putEventsMaxBytes: 256 * 1024,
  tableName: 'service-table',
  layout: OTHER_LAYOUT,
  deliveryTracking: true,
  retentionDays: 3,
  ...overrides,
});

const reconcilerSettings = (overrides: Partial<ReconcilerSettings> = {}): ReconcilerSettings => ({
  eventBusName: 'service-bus',
  source: 'service',
  poisonQueueUrl: QUEUE_URL,
  putEventsMaxBytes: 256 * 1024,
  tableName: 'service-table',
  layout: OTHER_LAYOUT,
  retentionDays: 3,
  thresholdSeconds: 600,
  maxItemsPerRun: 40,
  ...overrides,
});

const entries = (): PutEventsRequestEntry[] =>
  eventBridgeMock
    .commandCalls(PutEventsCommand)
    .flatMap((c) => (c.args[0].input as PutEventsCommandInput).Entries ?? []);

const detailOf = (entry: PutEventsRequestEntry): EventEnvelope => JSON.parse(entry.Detail ?? '{}');

const poisonQueueUrls = () =>
  sqsMock
    .commandCalls(SendMessageBatchCommand)
    .map((c) => (c.args[0].input as SendMessageBatchCommandInput).QueueUrl);

describe('outbox wiring', () => {
  beforeEach(() => {
    eventBridgeMock.reset();
    sqsMock.reset();
    docMock.reset();
    docMock.on(UpdateCommand).resolves({});
    docMock.on(PutCommand).resolves({});
    docMock.on(QueryCommand).resolves({ Items: [] });
    docMock.on(GetCommand).resolves({});
    eventBridgeMock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => ({
      Entries: (input.Entries ?? []).map((_, i) => ({ EventId: `eb-${i}` })),
    }));
    sqsMock.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({
      Successful: (input.Entries ?? []).map((e) => ({
        Id: e.Id,
        MessageId: `m-${e.Id}`,
        MD5OfMessageBody: 'x',
      })),
      Failed: [],
    }));
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('imports the use cases and the wiring without any environment: no side effect on import', async () => {
    // Prepare
    vi.stubEnv('OUTBOX_RELAY_SETTINGS', undefined);
    vi.stubEnv('OUTBOX_RECONCILER_SETTINGS', undefined);

    // Act
    const relay = await import('../../../src/engine/relay');
    const reconciler = await import('../../../src/engine/reconciler');
    const wiring = await import('../../../src/engine/wiring');

    // Assess
    expect(typeof relay.createRelayHandler).toBe('function');
    expect(typeof reconciler.reconcile).toBe('function');
    expect(typeof wiring.buildRelayHandler).toBe('function');
    expect(typeof wiring.buildReconcilerHandler).toBe('function');
  });

  describe('buildRelayHandler', () => {
    it('publishes to the bus and source of its settings and records the items in a receipt in its table', async () => {
      // Prepare
      const handler = buildRelayHandler({ settings: relaySettings(), clients: clients() });
      const items = [0, 1].map((n) => outboxItem(n, {}, OTHER_LAYOUT));

      // Act
      const response = await handler(
        streamEvent(items.map((item, n) => streamRecord(n, item, { layout: OTHER_LAYOUT }))),
      );

      // Assess
      expect(response).toEqual({ batchItemFailures: [] });
      expect(entries().map((e) => [e.EventBusName, e.Source, detailOf(e).eventId])).toEqual(
        items.map((i) => ['service-bus', 'service', i.eventId]),
      );
      const receipts = docMock.commandCalls(PutCommand).map((c) => c.args[0].input);
      expect(receipts.map((r) => [r.TableName, r.Item?.pk, r.Item?.published])).toEqual([
        [
          'service-table',
          'RECEIPT#2026-11-22T10:00',
          new Set(items.map((i) => JSON.stringify([keyOf(i, OTHER_LAYOUT).pk, keyOf(i, OTHER_LAYOUT).sk]))),
        ],
      ]);
      // The retention of its settings: the receipt expires three days after it is written.
      const writtenAt = Date.parse(String(receipts[0]?.Item?.sk).split('#')[1] ?? '');
      expect(receipts[0]?.Item?.ttl).toBe(Math.floor(writtenAt / 1000) + 3 * 86_400);
      expect(docMock.commandCalls(UpdateCommand)).toHaveLength(0);
    });

    it('writes nothing back to the table with delivery tracking off', async () => {
      // Prepare
      const handler = buildRelayHandler({
        settings: relaySettings({ deliveryTracking: false }),
        clients: clients(),
      });

      // Act
      const response = await handler(
        streamEvent([streamRecord(0, outboxItem(0, {}, OTHER_LAYOUT), { layout: OTHER_LAYOUT })]),
      );

      // Assess
      expect(response).toEqual({ batchItemFailures: [] });
      expect(entries()).toHaveLength(1);
      expect(docMock.commandCalls(UpdateCommand)).toHaveLength(0);
      expect(docMock.commandCalls(PutCommand)).toHaveLength(0);
    });

    it('holds entries to putEventsMaxBytes and parks a larger one on its poison queue', async () => {
      // Prepare
      const handler = buildRelayHandler({
        settings: relaySettings({ putEventsMaxBytes: 2048 }),
        clients: clients(),
      });
      const small = outboxItem(0, {}, OTHER_LAYOUT);
      const big = outboxItem(1, { payload: { note: 'x'.repeat(3000) } }, OTHER_LAYOUT);

      // Act
      const response = await handler(
        streamEvent([
          streamRecord(0, small, { layout: OTHER_LAYOUT }),
          streamRecord(1, big, { layout: OTHER_LAYOUT }),
        ]),
      );

      // Assess
      expect(response).toEqual({ batchItemFailures: [] });
      expect(entries().map((e) => detailOf(e).eventId)).toEqual([small.eventId]);
      expect(poisonQueueUrls()).toEqual([QUEUE_URL]);
    });
  });

  describe('buildReconcilerHandler', () => {
    it('lists its table by the time index of its layout, with its threshold and per-run budget, and records a receipt', async () => {
      // Prepare: the watermark at the cut-off's minute; one item left pending in it.
      vi.useFakeTimers({ now: new Date('2026-11-22T12:00:00.000Z'), toFake: ['Date'] });
      const pending = outboxItem(1, {}, OTHER_LAYOUT);
      const { pk, sk } = keyOf(pending, OTHER_LAYOUT);
      const minute = '2026-11-22T11:50';
      const stuck = { ...pending, gsi1pk: `${minute}#0`, gsi1sk: `${minute}:00.000Z` };
      docMock
        .on(GetCommand)
        .resolves({ Item: { pk: 'RECONCILER', sk: 'WATERMARK', bucket: minute } })
        .on(QueryCommand, {
          IndexName: 'by-written',
          ExpressionAttributeValues: { ':minute': `${minute}#0` },
        })
        .resolves({ Items: [stuck] });
      const reconcile = buildReconcilerHandler({ settings: reconcilerSettings(), clients: clients() });

      // Act
      const report = await reconcile().finally(() => vi.useRealTimers());

      // Assess
      expect(report).toMatchObject({ found: 1, republished: 1, truncated: false });
      const queries = docMock.commandCalls(QueryCommand).map((c) => c.args[0].input);
      // Its stuck events first, kept in the same table under their own partition.
      expect(queries[0]).toMatchObject({
        TableName: 'service-table',
        ExpressionAttributeNames: { '#pk': 'pk' },
        ExpressionAttributeValues: { ':pk': 'RECONCILER#RETRY' },
      });
      const indexQueries = queries.filter((q) => q.IndexName !== undefined);
      expect(indexQueries).toHaveLength(4);
      expect(indexQueries[0]).toMatchObject({
        TableName: 'service-table',
        IndexName: 'by-written',
        ExpressionAttributeNames: { '#minute': 'gsi1pk', '#writtenAt': 'gsi1sk' },
        ExpressionAttributeValues: { ':minute': `${minute}#0`, ':before': '2026-11-22T11:50:00.000Z' },
        Limit: 40,
      });
      expect(entries().map((e) => [e.EventBusName, e.Source, detailOf(e).eventId])).toEqual([
        ['service-bus', 'service', pending.eventId],
      ]);
      const receipt = docMock
        .commandCalls(PutCommand)
        .map((c) => c.args[0].input.Item)
        .find((item) => String(item?.sk).startsWith('RECEIPT#'));
      expect(receipt).toEqual({
        pk: `RECEIPT#${minute}`,
        sk: expect.stringMatching(/^RECEIPT#2026-11-22T12:00:00.000Z#/),
        published: new Set([JSON.stringify([pk, sk])]),
        ttl: Date.parse('2026-11-22T12:00:00.000Z') / 1000 + 3 * 86_400,
      });
    });

    it('stops starting pages when the time budget runs out', async () => {
      // Prepare
      docMock.on(QueryCommand).resolves({ Items: [] });
      const reconcile = buildReconcilerHandler({ settings: reconcilerSettings(), clients: clients() });

      // Act
      const report = await reconcile(() => false);

      // Assess
      expect(report).toMatchObject({ found: 0, truncated: true });
      expect(
        docMock.commandCalls(QueryCommand).map((c) => c.args[0].input.ExpressionAttributeValues?.[':pk']),
      ).toEqual(['RECONCILER#RETRY']);
    });
  });
});
