import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryResult } from '../../lambdas/inventory/consumer';
import { InventoryStore } from '../../lambdas/inventory/inventory-store';
import { orderPartition, ordersOutboxLayout } from '../../lambdas/orders/table';
import { runOutbox } from '../../packages/dynamodb-outbox/src/cli/main';
import { redrive } from '../../packages/dynamodb-outbox/src/cli/redrive';
import { type OutboxStatus, outboxStatus } from '../../packages/dynamodb-outbox/src/cli/status';
import { type OutboxTarget, resolveTarget } from '../../packages/dynamodb-outbox/src/cli/target';
import { DeliveryReceipts } from '../../packages/dynamodb-outbox/src/engine/delivery-tracking';
import { listingFor } from '../../packages/dynamodb-outbox/src/engine/outbox-listing/listing-for';
import { TimeOrderedOutbox } from '../../packages/dynamodb-outbox/src/engine/pending-outbox';
import { PoisonQueue } from '../../packages/dynamodb-outbox/src/engine/poison-queue';
import { createOutboxTable } from '../../packages/dynamodb-outbox/src/local/dynamodb';
import { type LocalRuntime, startLocalRuntime } from '../../packages/dynamodb-outbox/src/local/runtime';
import type { EventEnvelope } from '../../packages/dynamodb-outbox/src/runtime/envelope';
import {
  type OutboxLayout,
  outboxKeyOf,
  TIME_ORDERED_TABLE_LAYOUT,
  timeBucketOf,
  timeIndexEntryOf,
} from '../../packages/dynamodb-outbox/src/runtime/layout';
import { writtenWhenItOccurred } from '../../packages/dynamodb-outbox/test/support/outbox-items';
import { eventually } from './consumer-support';

const POISON_ORDER = '01M81POISON0000000000000000';
const POISON_EVENT = '01M81POISONEVENT0000000000';

/**
 * `npm start`'s runtime with its consumers, and the operator's CLI against it: the inventory
 * consumer takes relayed events, a poison event lands on the SQS stand-in, `status` sees it and
 * `redrive` republishes it once the item is fixed.
 */
describe('the offline runtime with its consumers, operated with the outbox CLI', () => {
  let runtime: LocalRuntime;
  let target: OutboxTarget;
  const results: DeliveryResult[] = [];
  let inventory: InventoryStore;

  beforeAll(async () => {
    runtime = await startLocalRuntime({
      apiPort: 0,
      dynamoDbPort: 0,
      onInvoke: (outcome) => {
        if (outcome.ok && outcome.path.includes('/Inventory/Consumer/'))
          results.push(outcome.result as DeliveryResult);
      },
    });
    inventory = new InventoryStore(
      DynamoDBDocumentClient.from(runtime.dynamoDb.client),
      runtime.tableName('Inventory/Table'),
    );
    // The CLI finds the table, layout, bus and queues in the stack's outputs, as on AWS; the stack
    // holds two outboxes (orders' and inventory's), so it is told which.
    // The watermark a reconciler run leaves, ten minutes back: status reads the orders table from there.
    await listingOf(runtime.tableName('Orders/Table'), ordersOutboxLayout).settled(
      new Date(Date.now() - 600_000).toISOString(),
    );
    target = await resolveTarget(
      { local: true, outputs: runtime.outputs, outbox: 'Outbox' },
      {
        DYNAMODB_ENDPOINT: runtime.dynamoDb.endpoint,
        EVENTBRIDGE_ENDPOINT: runtime.eventBus.endpoint,
        SQS_ENDPOINT: runtime.sqs.endpoint,
      },
    );
  });
  afterAll(async () => {
    target?.destroy();
    await runtime?.stop();
  });

  /** The reconciler's listing of `tableName`, as the wiring composes it. */
  function listingOf(tableName: string, layout: OutboxLayout) {
    const doc = DynamoDBDocumentClient.from(runtime.dynamoDb.client);
    return new TimeOrderedOutbox(doc, {
      tableName,
      layout,
      items: listingFor(doc, tableName, layout),
      receipts: new DeliveryReceipts(doc, { tableName, layout, retentionDays: 7 }),
    });
  }

  const placeOrder = async () => {
    const response = await fetch(`${runtime.apiUrl}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        customerId: 'c1',
        currency: 'EUR',
        lines: [{ sku: 'SKU-11', quantity: 2, unitPrice: 1250 }],
      }),
    });
    return ((await response.json()) as { orderId: string }).orderId;
  };
  const queueDepth = async (name: string) =>
    (await outboxStatus(target)).queues.find((q) => q.name === name)?.messages;

  it('reserves stock for a relayed order, and status shows nothing pending', async () => {
    // Act
    const orderId = await placeOrder();
    await eventually(async () => results.some((r) => r.orderId === orderId));

    // Assess
    expect(results.find((r) => r.orderId === orderId)).toMatchObject({
      outcome: 'reserved',
      duplicate: false,
    });
    expect(await inventory.available('SKU-11')).toBe(1000 - 2);
    await eventually(async () => (await outboxStatus(target)).pending === 0);
    const status = await outboxStatus(target);
    // The stack's queues: both outboxes' poison queues and both consumers' dead-letter queues.
    expect(status.queues.map((q) => q.name).sort()).toEqual([
      'InventoryDeadLetter',
      'InventoryOutboxPoison',
      'OrderAnswersDeadLetter',
      'OutboxPoison',
    ]);
    expect(status.queues.every((q) => q.messages === 0)).toBe(true);
  });

  it('parks a poison event on the poison queue, and redrives it once the item is fixed', async () => {
    // Prepare: an outbox item no EventBridge entry can carry (DetailType over 128 characters).
    const doc = DynamoDBDocumentClient.from(runtime.dynamoDb.client);
    const key = outboxKeyOf(
      ordersOutboxLayout,
      { aggregateType: 'Order', aggregateId: POISON_ORDER, sequence: 1 },
      { aggregateKey: orderPartition(POISON_ORDER) },
    );
    const writtenAt = new Date();
    await doc.send(
      new PutCommand({
        TableName: runtime.tableName('Orders/Table'),
        Item: {
          ...key,
          eventId: POISON_EVENT,
          eventType: `OrderPlaced${'X'.repeat(130)}`,
          aggregateType: 'Order',
          aggregateId: POISON_ORDER,
          sequence: 1,
          occurredAt: new Date().toISOString(),
          schemaVersion: 1,
          payload: {
            orderId: POISON_ORDER,
            customerId: 'c2',
            currency: 'EUR',
            lines: [{ sku: 'SKU-17', quantity: 3, unitPrice: 199 }],
            total: 597,
          },
          expiresAt: Math.floor(writtenAt.getTime() / 1000) + 7 * 86_400,
          ...timeIndexEntryOf(
            ordersOutboxLayout,
            { aggregateType: 'Order', aggregateId: POISON_ORDER },
            writtenAt,
          ),
        },
      }),
    );
    await eventually(async () => (await queueDepth('OutboxPoison')) === 1);
    // Parked by the relay: named in a parked receipt, so the reconciler will not queue it a second
    // time, and kept past its TTL until a redrive.
    await eventually(async () => (await outboxStatus(target)).pending === 0);
    const parked = await doc.send(new GetCommand({ TableName: runtime.tableName('Orders/Table'), Key: key }));
    expect(parked.Item).toMatchObject({ eventId: POISON_EVENT });
    expect(parked.Item?.expiresAt).toBeUndefined();

    // Act: a redrive before the fix changes nothing; after it, the event is published.
    const early = await redrive(target);
    await doc.send(
      new UpdateCommand({
        TableName: runtime.tableName('Orders/Table'),
        Key: key,
        UpdateExpression: 'SET eventType = :fixed',
        ExpressionAttributeValues: { ':fixed': 'OrderPlaced' },
      }),
    );
    const fixed = await redrive(target);

    // Assess
    expect(early).toMatchObject({ read: 1, republished: 0, deleted: 0, left: 1 });
    expect(early.entries[0]).toMatchObject({ eventId: POISON_EVENT, outcome: 'still-poison', from: 'table' });
    expect(fixed).toMatchObject({ read: 1, republished: 1, deleted: 1, left: 0 });
    await eventually(async () => results.some((r) => r.eventId === POISON_EVENT));
    expect(await inventory.available('SKU-17')).toBe(1000 - 3);
    // The saga answers the order (inventory's StockReserved, then orders' own event): poll until relayed.
    await eventually(async () => (await outboxStatus(target)).pending === 0);
    const after = await outboxStatus(target);
    const published = await doc.send(
      new GetCommand({ TableName: runtime.tableName('Orders/Table'), Key: key }),
    );
    // Handed back to TTL by the redrive.
    expect(published.Item).toMatchObject({ expiresAt: expect.any(Number) });
    expect(after.queues.find((q) => q.name === 'OutboxPoison')).toMatchObject({ messages: 0, inFlight: 0 });
  });

  it('runs the reconciler, which finds nothing left behind', async () => {
    const report = await runtime.function('/Outbox/Reconciler').invoke({});
    expect(report).toMatchObject({ found: 0, republished: 0 });
  });

  /**
   * A time-ordered outbox table (receipts, no index) in the same DynamoDB Local, operated through
   * the CLI's entry (`runOutbox`) as `npm run outbox -- … --layout time-ordered-table` runs it.
   */
  describe('a time-ordered outbox table beside it', () => {
    const layout = TIME_ORDERED_TABLE_LAYOUT;
    const table = 'outbox-time-ordered';
    // No rule of the stack matches this source: a republished event reaches no consumer.
    const source = 'test.time-ordered';
    const start = Date.now();
    const secondsAgo = (seconds: number) => new Date(start - seconds * 1000).toISOString();
    const events: EventEnvelope[] = [240, 180, 120, 60, 30].map((ago, n) => ({
      eventId: `01M81TIMEORDERED00000000E${n}`,
      eventType: 'ThingHappened',
      aggregateType: 'Thing',
      aggregateId: `t${n}`,
      sequence: 1,
      occurredAt: secondsAgo(ago),
      schemaVersion: 1,
      payload: { n },
    }));
    const event = (n: number) => events[n] as EventEnvelope;
    const keyOf = (n: number) => outboxKeyOf(layout, event(n), { writtenAt: new Date(event(n).occurredAt) });
    const writer = writtenWhenItOccurred({
      tableName: table,
      layout,
      deliveryTracking: true,
      retentionDays: 7,
    });
    let doc: DynamoDBDocumentClient;
    let tracker: DeliveryReceipts;

    /** `npm run outbox -- <args> --local --table <on> --layout time-ordered-table`. */
    const cli = async (...args: string[]) => cliOn(table, ...args);
    const cliOn = async (on: string, ...args: string[]) => {
      const stdout: string[] = [];
      const stderr: string[] = [];
      const code = await runOutbox(
        [...args, '--local', '--table', on, '--layout', 'time-ordered-table'],
        { log: (text) => stdout.push(text), error: (text) => stderr.push(text) },
        {
          DYNAMODB_ENDPOINT: runtime.dynamoDb.endpoint,
          EVENTBRIDGE_ENDPOINT: runtime.eventBus.endpoint,
          SQS_ENDPOINT: runtime.sqs.endpoint,
        },
      );
      return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
    };
    const statusJson = async (...args: string[]): Promise<OutboxStatus> => {
      const { code, stdout, stderr } = await cli('status', '--json', ...args);
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      return JSON.parse(stdout) as OutboxStatus;
    };

    beforeAll(async () => {
      doc = DynamoDBDocumentClient.from(runtime.dynamoDb.client);
      // The table as the construct creates it for this layout: its own key, a stream, no index.
      await createOutboxTable(runtime.dynamoDb.client, table, layout);
      for (const e of events) await doc.send(new PutCommand({ TableName: table, Item: writer.item(e) }));
      // What the relay records: events 0 and 3 published, event 2 parked; 1 and 4 not yet.
      tracker = new DeliveryReceipts(doc, { tableName: table, layout, retentionDays: 7 });
      const now = new Date();
      expect(await tracker.markPublished([{ key: keyOf(0) }, { key: keyOf(3) }], now)).toMatchObject({
        marked: 2,
      });
      expect(await tracker.markParked([{ key: keyOf(2) }], now)).toMatchObject({ marked: 1 });
    });

    it('status without a reconciler watermark reads from the start of the retention, and says where --max stopped it', async () => {
      // Act: a one-day retention is 11,520 partitions; 800 reads are the first 100 minutes.
      const dayBefore = (ms: number) => timeBucketOf(new Date(ms - 86_400_000).toISOString());
      const earliest = dayBefore(Date.now());
      const status = await statusJson('--retention-days', '1', '--max', '800');
      const latest = dayBefore(Date.now());
      const text = await cli('status', '--retention-days', '1', '--max', '800');

      // Assess
      expect(status).toMatchObject({
        table,
        listedBy: 'table-key',
        pending: 0,
        listing: { since: 'retention', itemsRead: 800, receiptKeys: 0 },
      });
      const { from, stoppedAt } = status.listing ?? {};
      expect(Date.parse(`${stoppedAt}:00Z`) - Date.parse(`${from}:00Z`)).toBe(100 * 60_000);
      expect([earliest <= String(from), String(from) <= latest]).toEqual([true, true]);
      expect(text.stdout).toMatch(
        /^ {2}tracking {14}receipts \(time-ordered table\), read from \S+ \(start of the retention\)$/m,
      );
      expect(text.stdout).toContain('  pending events        at least 0');
      expect(text.stdout).toMatch(
        /^Note: Stopped after reading 800 outbox items \(--max\) from \S+: events from \S+ on are not all counted\./m,
      );
    });

    it("status from the reconciler's watermark counts exactly the events no receipt lists, and the oldest", async () => {
      // Prepare: the watermark a reconciler run leaves, ten minutes back.
      await listingOf(table, layout).settled(secondsAgo(600));

      // Act
      const status = await statusJson();
      const text = await cli('status');

      // Assess
      expect(status).toMatchObject({
        listedBy: 'table-key',
        pending: 2,
        oldestPendingOccurredAt: event(1).occurredAt,
        listing: { from: timeBucketOf(secondsAgo(600)), since: 'watermark', receiptKeys: 3 },
      });
      expect(status.listing).not.toHaveProperty('stoppedAt');
      expect(status.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(180);
      expect(text.stdout).toContain(
        `  tracking              receipts (time-ordered table), read from ${timeBucketOf(secondsAgo(600))} (reconciler watermark)`,
      );
      expect(text.stdout).toContain('  pending events        2\n');
      expect(text.stdout).not.toContain('Note: Stopped');
    });

    it('redrive republishes a parked event from the table and records it in a receipt, not on the item', async () => {
      // Prepare: event 2 on a poison queue of its own, as the relay parks it.
      const parked = event(2);
      const queueUrl = runtime.sqs.createQueue('time-ordered-poison');
      const sent = await new PoisonQueue({ sqs: target.sqs, queueUrl }).send([
        {
          errorCode: 'EntryTooLarge',
          reason: 'too big',
          key: keyOf(2),
          envelope: parked,
          item: writer.item(parked),
        },
      ]);
      expect(sent.failed).toEqual([]);

      // Act
      const { code, stdout } = await cli(
        'redrive',
        '--poison-queue-url',
        queueUrl,
        '--bus',
        runtime.outputs.OutboxEventBusName ?? 'orders',
        '--source',
        source,
      );

      // Assess
      expect(code).toBe(0);
      expect(stdout).toContain('  events republished    1');
      expect(runtime.eventBus.detailEventIdCounts().get(parked.eventId)).toBe(1);
      expect(await tracker.published([{ key: keyOf(2) }])).toEqual([keyOf(2)]);
      const { Item } = await doc.send(
        new GetCommand({ TableName: table, Key: keyOf(2), ConsistentRead: true }),
      );
      expect(Item).not.toHaveProperty('publishedAt');
      expect((await statusJson()).pending).toBe(2);
    });
    it('status names the layout and its keys when the table is not keyed that way (the orders table)', async () => {
      // Act
      const orders = runtime.tableName('Orders/Table');
      const { code, stderr } = await cliOn(orders, 'status');

      // Assess: DynamoDB Local's own answer, explained.
      expect(code).toBe(2);
      expect(stderr).toMatch(
        new RegExp(
          `^outbox: Table ${orders} is not keyed as its outbox layout says \\(time-ordered-table: pk/sk\\)`,
        ),
      );
    });
  });
});
