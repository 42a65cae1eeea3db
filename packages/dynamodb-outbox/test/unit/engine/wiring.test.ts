import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandInput,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { SendMessageBatchCommand, type SendMessageBatchCommandInput, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
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
    it('publishes to the bus and source of its settings and marks items in its table under its layout', async () => {
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
      const updates = docMock.commandCalls(UpdateCommand).map((c) => c.args[0].input);
      expect(updates.map((u) => [u.TableName, u.Key])).toEqual(
        items.map((i) => ['service-table', keyOf(i, OTHER_LAYOUT)]),
      );
      // The retention of its settings: the TTL is armed three days after the publish.
      const values = updates[0]?.ExpressionAttributeValues ?? {};
      expect(values[':expiresAt'] - Math.floor(Date.parse(values[':at']) / 1000)).toBe(3 * 86_400);
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
    it('reads the pending index of its table and layout, with its threshold and per-run budget', async () => {
      // Prepare
      vi.useFakeTimers({ now: new Date('2026-11-22T12:00:00.000Z'), toFake: ['Date'] });
      const pending = { ...outboxItem(1, {}, OTHER_LAYOUT), gsi1pk: 'PENDING#0' };
      docMock
        .on(QueryCommand)
        .resolves({ Items: [] })
        .on(QueryCommand, { ExpressionAttributeValues: { ':shard': 'PENDING#0' } })
        .resolves({ Items: [pending] });
      const reconcile = buildReconcilerHandler({ settings: reconcilerSettings(), clients: clients() });

      // Act
      const report = await reconcile().finally(() => vi.useRealTimers());

      // Assess
      expect(report).toMatchObject({ found: 1, republished: 1, truncated: false });
      const queries = docMock.commandCalls(QueryCommand).map((c) => c.args[0].input);
      expect(queries).toHaveLength(5);
      // Its stuck events first, kept in the same table under their own partition.
      expect(queries[0]).toMatchObject({
        TableName: 'service-table',
        ExpressionAttributeNames: { '#pk': 'pk' },
        ExpressionAttributeValues: { ':pk': 'RECONCILER#RETRY' },
      });
      expect(queries[1]).toMatchObject({
        TableName: 'service-table',
        IndexName: 'unpublished',
        ExpressionAttributeNames: { '#shard': 'gsi1pk', '#occurredAt': 'occurredAt' },
        ExpressionAttributeValues: { ':shard': 'PENDING#0', ':before': '2026-11-22T11:50:00.000Z' },
        Limit: 40,
      });
      expect(entries().map((e) => [e.EventBusName, e.Source, detailOf(e).eventId])).toEqual([
        ['service-bus', 'service', pending.eventId],
      ]);
      expect(
        docMock.commandCalls(UpdateCommand).map((c) => [c.args[0].input.TableName, c.args[0].input.Key]),
      ).toEqual([['service-table', keyOf(pending, OTHER_LAYOUT)]]);
      expect(docMock.commandCalls(UpdateCommand)[0]?.args[0].input.ExpressionAttributeValues).toEqual({
        ':at': '2026-11-22T12:00:00.000Z',
        ':expiresAt': Date.parse('2026-11-22T12:00:00.000Z') / 1000 + 3 * 86_400,
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
