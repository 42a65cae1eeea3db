import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { formatRedrive, redrive } from '../../../src/cli/redrive';
import type { OutboxTarget } from '../../../src/cli/target';
import { PoisonQueue } from '../../../src/engine/poison-queue';
import { type LocalEventBus, startLocalEventBus } from '../../../src/local/event-bus';
import { type LocalSqs, startLocalSqs } from '../../../src/local/sqs';
import type { EventEnvelope } from '../../../src/runtime/envelope';
import { TIME_ORDERED_TABLE_LAYOUT } from '../../../src/runtime/layout';
import { OutboxWriter } from '../../../src/runtime/writer';
import { ordersOutboxLayout } from '../../support/sample-table';

const ddb = mockClient(DynamoDBDocumentClient);
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

/** An outbox item as the orders table stores it: the order's partition, the envelope, its time index entry. */
type OutboxItem = EventEnvelope & { PK: string; SK: string; outboxMinute: string; outboxWrittenAt: string };

const item = (n: number, payload: Record<string, unknown> = { orderId: `o${n}` }): OutboxItem => ({
  PK: `ORDER#o${n}`,
  SK: 'OUTBOX#0000000001',
  eventId: `e${n}`,
  eventType: 'OrderPlaced',
  aggregateType: 'Order',
  aggregateId: `o${n}`,
  sequence: 1,
  occurredAt: '2026-11-22T10:00:00.000Z',
  schemaVersion: 1,
  payload,
  // The time index entry the writer gave it: the minute its receipt goes under.
  outboxMinute: '2026-11-22T10:00#0',
  outboxWrittenAt: '2026-11-22T10:00:00.000Z',
});
const oversize = (n: number) => item(n, { orderId: `o${n}`, blob: 'x'.repeat(1_100_000) });

describe('outbox redrive', () => {
  let sqs: LocalSqs;
  let bus: LocalEventBus;
  let target: OutboxTarget;
  let queueUrl: string;
  let n = 0;

  beforeAll(async () => {
    sqs = await startLocalSqs({ port: 0 });
    bus = await startLocalEventBus({ port: 0 });
    const sqsClient = new SQSClient({ endpoint: sqs.endpoint, region: 'us-east-1', credentials });
    target = {
      description: 'test',
      doc: DynamoDBDocumentClient.from(new DynamoDBClient({})),
      eventBridge: new EventBridgeClient({ endpoint: bus.endpoint, region: 'us-east-1', credentials }),
      sqs: sqsClient,
      tableName: 'orders',
      layout: ordersOutboxLayout,
      eventBusName: 'orders',
      source: 'orders',
      retentionDays: 7,
      queues: [],
      notes: [],
      destroy: () => undefined,
    };
  });
  afterAll(async () => {
    target.destroy();
    await bus.stop();
    await sqs.stop();
  });
  beforeEach(() => {
    ddb.reset();
    ddb.on(UpdateCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    bus.clear();
    queueUrl = sqs.createQueue(`poison-${n++}`);
    target = { ...target, poisonQueueUrl: queueUrl };
  });

  /** Park records exactly as the relay does, with its PoisonQueue. */
  const park = async (
    ...records: Array<{ item?: Readonly<Record<string, unknown>>; key?: Readonly<Record<string, string>> }>
  ) => {
    const queue = new PoisonQueue({ sqs: target.sqs, queueUrl });
    const result = await queue.send(
      records.map((r) => ({ errorCode: 'EntryTooLarge', reason: 'too big', ...r })),
    );
    expect(result.failed).toEqual([]);
  };

  it('republishes the fixed item from the table, records it in a receipt, hands it back to TTL, and deletes the message', async () => {
    // Prepare: parked oversize, then fixed in place by an operator.
    const broken = oversize(1);
    await park({ item: broken, key: { PK: broken.PK, SK: broken.SK } });
    ddb.on(GetCommand).resolves({ Item: item(1) });

    // Act
    const report = await redrive(target, { now: () => new Date('2026-11-22T12:00:00.000Z') });

    // Assess
    expect(report).toMatchObject({ read: 1, republished: 1, deleted: 1, left: 0 });
    expect(report.entries).toEqual([
      { messageId: expect.any(String), eventId: 'e1', from: 'table', outcome: 'republished' },
    ]);
    expect(bus.events().map((e) => e.event.detail)).toEqual([expect.objectContaining({ eventId: 'e1' })]);
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      Key: { PK: 'ORDER#o1', SK: 'OUTBOX#0000000001' },
      UpdateExpression: 'SET #expiresAt = :expiresAt',
      ExpressionAttributeValues: { ':expiresAt': Date.parse('2026-11-22T12:00:00.000Z') / 1000 + 7 * 86_400 },
    });
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input.Item).toMatchObject({
      PK: 'RECEIPT#2026-11-22T10:00',
      published: new Set([JSON.stringify(['ORDER#o1', 'OUTBOX#0000000001'])]),
    });
    expect(sqs.messages(queueUrl.split('/').pop() ?? '')).toEqual([]);
  });

  it('leaves a message whose event is still poison on the queue, with the reason', async () => {
    // Prepare
    const broken = oversize(2);
    await park({ item: broken, key: { PK: broken.PK, SK: broken.SK } });
    ddb.on(GetCommand).resolves({ Item: broken });

    // Act
    const report = await redrive(target);

    // Assess
    expect(report).toMatchObject({ read: 1, republished: 0, deleted: 0, left: 1 });
    expect(report.entries[0]).toMatchObject({
      eventId: 'e2',
      outcome: 'still-poison',
      reason: expect.stringMatching(/^EntryTooLarge/),
    });
    expect(bus.events()).toHaveLength(0);
    expect(sqs.messages(queueUrl.split('/').pop() ?? '')).toHaveLength(1);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    // Visible again at once: a second redrive after a fix does not wait for the visibility timeout.
    expect((await redrive(target)).read).toBe(1);
  });

  it('falls back to the copy in the message when the item is gone from the table', async () => {
    // Prepare
    await park({ item: item(3), key: { PK: 'ORDER#o3', SK: 'OUTBOX#0000000001' } });
    ddb.on(GetCommand).resolves({});

    // Act
    const report = await redrive(target);

    // Assess
    expect(report.entries).toEqual([
      { messageId: expect.any(String), eventId: 'e3', from: 'message', outcome: 'republished' },
    ]);
  });

  it('publishes an event parked twice (by the relay and the reconciler) once, and deletes both messages', async () => {
    // Prepare
    await park({ item: item(4) }, { item: item(4) });

    // Act
    const report = await redrive(target);

    // Assess
    expect(bus.events()).toHaveLength(1);
    expect(report).toMatchObject({ read: 2, republished: 1, deleted: 2, left: 0 });
  });

  it('keeps messages it cannot read, and says why', async () => {
    // Prepare
    await target.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          { Id: 'a', MessageBody: 'not json' },
          { Id: 'b', MessageBody: JSON.stringify({ hello: 'world' }) },
        ],
      }),
    );

    // Act
    const report = await redrive(target);

    // Assess
    expect(report.entries.map((e) => [e.outcome, e.reason])).toEqual([
      ['unresolvable', 'message body is not JSON'],
      ['unresolvable', 'not an outbox poison message'],
    ]);
    expect(report).toMatchObject({ read: 2, deleted: 0, left: 2 });
  });

  it('changes nothing on a dry run', async () => {
    // Prepare
    await park({ item: item(5) });

    // Act
    const report = await redrive(target, { dryRun: true });

    // Assess
    expect(report.entries).toEqual([
      { messageId: expect.any(String), eventId: 'e5', from: 'message', outcome: 'would-republish' },
    ]);
    expect(bus.events()).toHaveLength(0);
    expect(sqs.messages(queueUrl.split('/').pop() ?? '')).toHaveLength(1);
    expect(formatRedrive(report, true)).toContain('would republish       1');
  });

  it('calls still poison on a dry run what the real redrive leaves as still poison, with the same reason', async () => {
    // Prepare: one fixed, one still oversize in the table, one whose event type EventBridge refuses.
    const fixed = oversize(11);
    const tooBig = oversize(12);
    const badType = { ...item(13), eventType: 'X'.repeat(129) };
    await park(
      { item: fixed, key: { PK: fixed.PK, SK: fixed.SK } },
      { item: tooBig, key: { PK: tooBig.PK, SK: tooBig.SK } },
      { item: badType },
    );
    ddb.on(GetCommand, { Key: { PK: fixed.PK, SK: fixed.SK } }).resolves({ Item: item(11) });
    ddb.on(GetCommand, { Key: { PK: tooBig.PK, SK: tooBig.SK } }).resolves({ Item: tooBig });
    const byEvent = (entries: readonly { eventId?: string; outcome: string; reason?: string }[]) =>
      Object.fromEntries(entries.map((e) => [e.eventId, [e.outcome, e.reason]]));

    // Act
    const preview = await redrive(target, { dryRun: true });
    const real = await redrive(target);

    // Assess
    expect(byEvent(preview.entries)).toEqual({
      e11: ['would-republish', undefined],
      e12: ['still-poison', expect.stringMatching(/^EntryTooLarge: Entry is \d+ bytes/)],
      e13: ['still-poison', 'InvalidDetailType: eventType has 129 characters; DetailType allows 1 to 128'],
    });
    expect(byEvent(real.entries)).toEqual({
      ...byEvent(preview.entries),
      e11: ['republished', undefined],
    });
    expect(formatRedrive(preview, true)).toContain('still poison          2');
    expect(formatRedrive(preview, true)).toContain(
      'still-poison    event e13 (from the message): InvalidDetailType',
    );
  });

  it('redrives from a time-ordered table: the fixed item from the table, recorded in a receipt', async () => {
    // Prepare: parked oversize from a time-ordered table (pk <minute>#<shard>), then fixed in place.
    const layout = TIME_ORDERED_TABLE_LAYOUT;
    const timeOrdered: OutboxTarget = { ...target, tableName: 'outbox', layout };
    const { PK: _pk, SK: _sk, outboxMinute: _minute, outboxWrittenAt: _at, ...envelope } = item(11);
    const writer = new OutboxWriter(
      { tableName: 'outbox', layout, deliveryTracking: true, retentionDays: 7 },
      { now: () => new Date(envelope.occurredAt) },
    );
    const fixed = writer.item(envelope);
    const key = { pk: String(fixed.pk), sk: String(fixed.sk) };
    await park({ item: writer.item({ ...envelope, payload: { blob: 'x'.repeat(300_000) } }), key });
    ddb.on(GetCommand).resolves({ Item: fixed }).on(PutCommand).resolves({});

    // Act
    const report = await redrive(timeOrdered, { now: () => new Date('2026-11-22T12:00:00.000Z') });

    // Assess
    expect(report).toMatchObject({ read: 1, republished: 1, deleted: 1, left: 0 });
    expect(key.pk).toMatch(/^2026-11-22T10:00#[0-7]$/);
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toMatchObject({ TableName: 'outbox', Key: key });
    expect(bus.events().map((e) => e.event.detail)).toEqual([envelope]);
    // A receipt, and the item handed back to TTL: parking kept it past its TTL.
    expect(ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input)).toEqual([
      expect.objectContaining({
        Key: key,
        UpdateExpression: 'SET #expiresAt = :expiresAt',
        ExpressionAttributeValues: {
          ':expiresAt': Date.parse('2026-11-22T12:00:00.000Z') / 1000 + 7 * 86_400,
        },
      }),
    ]);
    expect(ddb.commandCalls(PutCommand).map((c) => c.args[0].input)).toEqual([
      {
        TableName: 'outbox',
        Item: {
          pk: 'RECEIPT#2026-11-22T10:00',
          sk: expect.stringMatching(/^RECEIPT#2026-11-22T12:00:00.000Z#/),
          published: new Set([key.sk]),
          expiresAt: Date.parse('2026-11-22T12:00:00.000Z') / 1000 + 7 * 86_400,
        },
      },
    ]);
    expect(sqs.messages(queueUrl.split('/').pop() ?? '')).toEqual([]);
  });

  it("reads the copy in the message with the target table's layout", async () => {
    // Prepare: a message parked from a dedicated table; its item has pk/sk, not PK/SK.
    const writer = new OutboxWriter({
      tableName: 'outbox',
      layout: TIME_ORDERED_TABLE_LAYOUT,
      deliveryTracking: false,
      retentionDays: 7,
    });
    const { PK: _pk, SK: _sk, ...envelope } = item(10);
    await park({ item: writer.item(envelope) });

    // Act
    const asOrders = await redrive(target, { dryRun: true });
    const asDedicated = await redrive({ ...target, layout: TIME_ORDERED_TABLE_LAYOUT }, { dryRun: true });

    // Assess
    expect(asOrders.entries).toEqual([
      {
        messageId: expect.any(String),
        outcome: 'unresolvable',
        reason: 'the copy in the message: Not a valid outbox item: no string key attributes PK/SK',
      },
    ]);
    expect(asDedicated.entries).toEqual([
      { messageId: expect.any(String), eventId: 'e10', from: 'message', outcome: 'would-republish' },
    ]);
  });

  it('reads at most --max messages', async () => {
    // Prepare
    await park({ item: item(6) }, { item: item(7) }, { item: item(8) });

    // Act
    const report = await redrive(target, { max: 2 });

    // Assess
    expect(report).toMatchObject({ read: 2, republished: 2 });
    expect(sqs.messages(queueUrl.split('/').pop() ?? '')).toHaveLength(1);
  });
});
