import {
  type AttributeValue,
  type ConsumedCapacity,
  type DynamoDBClient,
  GetItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ordersRoutes } from '../../lambdas/orders/http/routes';
import { buildOrdersHandler } from '../../lambdas/orders/wiring';
import type { DynamoDbLocal } from '../../packages/dynamodb-outbox/src/local/dynamodb';
import { type LocalEventBus, startLocalEventBus } from '../../packages/dynamodb-outbox/src/local/event-bus';
import { startLocalHttpApi } from '../../packages/dynamodb-outbox/src/local/http-server';
import { outboxKeyOf } from '../../packages/dynamodb-outbox/src/runtime/layout';
import {
  createTestOrdersTable,
  startTestDynamoDb,
} from '../../packages/dynamodb-outbox/test/support/dynamodb-local';
import { startTestRelay, testRelaySettings } from '../../packages/dynamodb-outbox/test/support/relay';
import {
  orderKey,
  orderPartition,
  ordersOutboxLayout,
} from '../../packages/dynamodb-outbox/test/support/sample-table';
import { testOrdersSettings } from '../support/orders-settings';
import { eventually } from './consumer-support';

const ORDERS = 20;
const KB = 1024;

/**
 * Item size as DynamoDB bills it: attribute names plus values (strings and binary by length,
 * numbers about 1 byte per 2 digits + 1, 3 bytes per list or map plus 1 per element).
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
 */
const valueSize = (value: AttributeValue): number => {
  if (value.S !== undefined) return Buffer.byteLength(value.S, 'utf8');
  if (value.N !== undefined) return Math.ceil(value.N.replace(/^-|\.|^0+/g, '').length / 2) + 1;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.M !== undefined)
    return 3 + Object.entries(value.M).reduce((s, [k, v]) => s + Buffer.byteLength(k) + valueSize(v) + 1, 0);
  if (value.L !== undefined) return 3 + value.L.reduce((s, v) => s + valueSize(v) + 1, 0);
  return 0;
};
const itemSize = (item: Record<string, AttributeValue>): number =>
  Object.entries(item).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + valueSize(value), 0);

interface WriteRecord {
  readonly command: string;
  readonly consumed: ConsumedCapacity[];
  /** For a receipt (a PutItem): the items it names as published. */
  readonly named: number;
}

/** Every write request sent through `client`, with the capacity DynamoDB (Local) reports for it. */
const countWrites = (client: DynamoDBClient, into: WriteRecord[]) => {
  const writes = new Set([
    'PutItemCommand',
    'UpdateItemCommand',
    'DeleteItemCommand',
    'TransactWriteItemsCommand',
    'BatchWriteItemCommand',
  ]);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = (context as { commandName?: string }).commandName ?? '';
      if (!writes.has(command)) return next(args);
      (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = 'INDEXES';
      const result = await next(args);
      const consumed = (result.output as { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] })
        .ConsumedCapacity;
      // A string set, as the document client hands it down (a Set) or marshalled ({ SS }).
      const published = (args.input as { Item?: { published?: Set<string> | { SS?: string[] } } }).Item
        ?.published;
      into.push({
        command,
        consumed: consumed === undefined ? [] : [consumed].flat(),
        named: published instanceof Set ? published.size : (published?.SS?.length ?? 0),
      });
      return result;
    },
    { step: 'initialize', name: 'countWrites' },
  );
};

interface Run {
  readonly writes: WriteRecord[];
  readonly orderSize: number;
  readonly outboxSize: number;
}

describe('what delivery tracking costs, per event', () => {
  let db: DynamoDbLocal;
  let bus: LocalEventBus;
  const runs = new Map<boolean, Run>();

  /** ORDERS orders through the real API and the real relay; every DynamoDB write request counted. */
  const measure = async (tracking: boolean): Promise<Run> => {
    const tableName = await createTestOrdersTable(db);
    const api = await startLocalHttpApi({
      routes: ordersRoutes,
      handler: buildOrdersHandler({
        settings: testOrdersSettings(tableName, { deliveryTracking: tracking }),
        clients: { dynamoDb: db.client },
      }),
      port: 0,
    });
    const relay = await startTestRelay({
      dynamoDb: db,
      eventBridgeEndpoint: bus.endpoint,
      settings: testRelaySettings(tableName, { deliveryTracking: tracking }),
    });
    const writes: WriteRecord[] = [];
    countWrites(db.client, writes);
    try {
      bus.clear();
      const orderIds: string[] = [];
      for (let i = 0; i < ORDERS; i++) {
        const response = await fetch(`${api.url}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            customerId: `customer-${i}`,
            currency: 'EUR',
            lines: [
              { sku: 'BOOK-1', quantity: 2, unitPrice: 1250 },
              { sku: 'PEN-7', quantity: 1, unitPrice: 199 },
            ],
          }),
        });
        orderIds.push(((await response.json()) as { orderId: string }).orderId);
      }
      await eventually(async () => bus.events().length === ORDERS);
      // With tracking, the relay's receipts follow the publish; without, there is nothing to wait for.
      if (tracking) await eventually(async () => writes.reduce((sum, w) => sum + w.named, 0) === ORDERS);
      const read = async (key: Record<string, string>) => {
        const { Item = {} } = await db.client.send(
          new GetItemCommand({
            TableName: tableName,
            Key: { PK: { S: key.PK ?? '' }, SK: { S: key.SK ?? '' } },
          }),
        );
        return itemSize(Item);
      };
      const orderId = orderIds[0] ?? '';
      return {
        writes: [...writes],
        orderSize: await read(orderKey(orderId)),
        outboxSize: await read(
          outboxKeyOf(
            ordersOutboxLayout,
            { aggregateType: 'Order', aggregateId: orderId, sequence: 1 },
            { aggregateKey: orderPartition(orderId) },
          ),
        ),
      };
    } finally {
      db.client.middlewareStack.remove('countWrites');
      await relay.stop();
      await api.close();
    }
  };

  beforeAll(async () => {
    db = await startTestDynamoDb();
    bus = await startLocalEventBus({ port: 0 });
    runs.set(true, await measure(true));
    runs.set(false, await measure(false));
  });
  afterAll(async () => {
    await bus?.stop();
    await db?.stop();
  });

  const byCommand = (run: Run | undefined) => {
    const counts: Record<string, number> = {};
    for (const w of run?.writes ?? []) counts[w.command] = (counts[w.command] ?? 0) + 1;
    return counts;
  };

  it('costs one write request per event without tracking, and with it one receipt per relay invocation, never a write per item', () => {
    expect(byCommand(runs.get(false))).toEqual({ TransactWriteItemsCommand: ORDERS });
    const tracked = byCommand(runs.get(true));
    expect(Object.keys(tracked).sort()).toEqual(['PutItemCommand', 'TransactWriteItemsCommand']);
    expect(tracked.TransactWriteItemsCommand).toBe(ORDERS);
    // Orders placed one at a time: at most one invocation, so one receipt, per order.
    expect(tracked.PutItemCommand).toBeGreaterThanOrEqual(1);
    expect(tracked.PutItemCommand).toBeLessThanOrEqual(ORDERS);
  });

  it('costs 4 WRU per event without tracking and 5 with it plus 1 per receipt, by AWS rules for items under 1 KB', () => {
    // Prepare: the sizes the rules apply to.
    const tracked = runs.get(true);
    const untracked = runs.get(false);
    if (tracked === undefined || untracked === undefined) throw new Error('runs missing');
    expect(Math.max(tracked.orderSize, tracked.outboxSize, untracked.outboxSize)).toBeLessThan(KB);
    const units = (bytes: number) => Math.ceil(bytes / KB);

    // Act: per event. A transactional write costs 2 WRU per KB per item; a GSI write 1 WRU per KB of
    // the index entry (the time index projects the whole item); a receipt, a standard write, 1 WRU per
    // KB. Nothing updates the item, and TTL deletions (the item with its index entry) are free.
    const withoutTracking = 2 * units(untracked.orderSize) + 2 * units(untracked.outboxSize);
    const withTracking =
      2 * units(tracked.orderSize) + 2 * units(tracked.outboxSize) + units(tracked.outboxSize); // the outbox item's time index entry
    const receipts = byCommand(tracked).PutItemCommand ?? 0;

    // Assess
    expect(withoutTracking).toBe(4);
    expect(withTracking).toBe(5);
    expect(receipts / ORDERS).toBeLessThanOrEqual(1);
  });

  it('matches what DynamoDB Local reports, as a cross-check (it does not double transactional writes)', () => {
    const total = (run: Run | undefined) =>
      (run?.writes ?? []).flatMap((w) => w.consumed).reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0) /
      ORDERS;
    expect(total(runs.get(false))).toBeGreaterThan(0);
    expect(total(runs.get(true))).toBeGreaterThan(total(runs.get(false)));
  });
});
