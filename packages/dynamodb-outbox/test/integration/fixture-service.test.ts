import { randomUUID } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildRelayHandler } from '../../src/engine/wiring';
import { localClientConfig } from '../../src/local/clients';
import {
  createOutboxTable,
  createTableAndWait,
  type DynamoDbLocal,
  startDynamoDbLocal,
} from '../../src/local/dynamodb';
import { type LocalEventBus, startLocalEventBus } from '../../src/local/event-bus';
import { claimPort } from '../../src/local/ports';
import { latestStreamArn, StreamPoller } from '../../src/local/stream-poller';
import { relayFilterPattern, TIME_ORDERED_TABLE_LAYOUT } from '../../src/runtime/layout';
import { relaySettings, writerSettings } from '../../src/runtime/settings';
import { SHIPMENT_CREATED, SHIPMENTS_SOURCE } from '../fixtures/shipments/events';
import type { handler as createShipmentHandler } from '../fixtures/shipments/lambda/create-shipment';
import {
  SHIPMENT_AGGREGATE,
  SHIPMENTS_TABLE_ENV,
  shipmentKey,
  shipmentsTable,
} from '../fixtures/shipments/table';

/*
 * The shipments fixture (a second service: its own pk/sk table, its own write code, the default
 * dedicated outbox table) from its write, through the outbox table's stream and the relay, to
 * the bus, offline: DynamoDB Local, the local StreamPoller with the deployed filter, the real
 * relay wiring, and the local EventBridge endpoint. Settings travel through their environment
 * contracts (toEnv → fromEnv), as the construct writes them and the functions read them.
 */

const layout = TIME_ORDERED_TABLE_LAYOUT;
const BUS_NAME = 'shipments-bus';
const POLL = { timeout: 20_000, interval: 50 } as const;

describe('shipments fixture offline: write → outbox table stream → relay → bus', () => {
  let db: DynamoDbLocal;
  let bus: LocalEventBus;
  let poller: StreamPoller;
  let streams: DynamoDBStreamsClient;
  let eventBridge: EventBridgeClient;
  let sqs: SQSClient;
  let doc: DynamoDBDocumentClient;
  let createShipment: typeof createShipmentHandler;
  const serviceTable = `shipments-${randomUUID().slice(0, 8)}`;
  const outboxTable = `shipments-outbox-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    db = await startDynamoDbLocal(await claimPort(0));
    bus = await startLocalEventBus({ port: 0, eventBusName: BUS_NAME });
    doc = DynamoDBDocumentClient.from(db.client);

    // The service's own table (no stream), and the outbox table as the construct creates it.
    await createTableAndWait(db.client, {
      TableName: serviceTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: shipmentsTable.partitionKey, AttributeType: 'S' },
        { AttributeName: shipmentsTable.sortKey, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: shipmentsTable.partitionKey, KeyType: 'HASH' },
        { AttributeName: shipmentsTable.sortKey, KeyType: 'RANGE' },
      ],
    });
    await createOutboxTable(db.client, outboxTable, layout);

    // What grantWrite and the relay construct write into the functions' environments.
    const writerEnv = {
      [SHIPMENTS_TABLE_ENV]: serviceTable,
      ...writerSettings.toEnv({ tableName: outboxTable, layout, deliveryTracking: true, retentionDays: 7 }),
    };
    const relayEnv = relaySettings.toEnv({
      eventBusName: BUS_NAME,
      source: SHIPMENTS_SOURCE,
      // Nothing here is poison: a send to it would fail against the closed port and fail the test.
      poisonQueueUrl: `http://127.0.0.1:${await claimPort(0)}/000000000000/shipments-poison`,
      putEventsMaxBytes: 262_144,
      tableName: outboxTable,
      layout,
      deliveryTracking: true,
      retentionDays: 7,
    });

    // The README's write function as Lambda loads it: its module reads the environment once.
    for (const [name, value] of Object.entries(writerEnv)) vi.stubEnv(name, value);
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', db.endpoint);
    createShipment = (await import('../fixtures/shipments/lambda/create-shipment')).handler;

    eventBridge = new EventBridgeClient(localClientConfig(bus.endpoint));
    sqs = new SQSClient({
      ...localClientConfig(relaySettings.fromEnv(relayEnv).poisonQueueUrl),
      maxAttempts: 1,
    });
    const relay = buildRelayHandler({
      settings: relaySettings.fromEnv(relayEnv),
      clients: { dynamoDb: db.client, eventBridge, sqs },
    });
    streams = new DynamoDBStreamsClient(localClientConfig(db.endpoint));
    poller = new StreamPoller({
      client: streams,
      streamArn: await latestStreamArn(db.client, outboxTable),
      handler: relay,
      filterPatterns: [relayFilterPattern(layout)],
      reportBatchItemFailures: true,
      bisectBatchOnFunctionError: true,
      pollIntervalMs: 50,
      shardDiscoveryIntervalMs: 200,
    });
    poller.start();
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await poller?.stop();
    streams?.destroy();
    eventBridge?.destroy();
    sqs?.destroy();
    await bus?.stop();
    await db?.stop();
  });

  const eventsOf = (shipmentId: string) =>
    bus.events().filter((accepted) => accepted.event.detail.aggregateId === shipmentId);

  /** The outbox table's items (events and receipts): a handful here, so one Scan. */
  const outboxTableItems = async () =>
    (await doc.send(new ScanCommand({ TableName: outboxTable, ConsistentRead: true }))).Items ?? [];

  const outboxItemsOf = async (shipmentId: string) =>
    (await outboxTableItems()).filter((item) => item.aggregateId === shipmentId);

  it('publishes ShipmentCreated with the outbox envelope and the service source, then records it in a receipt', async () => {
    // Act
    const command = { shipmentId: 'S-1', orderId: 'O-1', carrier: 'parcel-co' };
    const { eventId } = await createShipment(command);

    // Assess: one event on the bus, as the relay publishes it.
    await vi.waitFor(() => expect(eventsOf('S-1')).toHaveLength(1), POLL);
    const [accepted] = eventsOf('S-1');
    expect(accepted?.eventBusName).toBe(BUS_NAME);
    expect(accepted?.event).toMatchObject({ source: SHIPMENTS_SOURCE, 'detail-type': SHIPMENT_CREATED });
    expect(accepted?.event.detail).toEqual({
      eventId,
      eventType: SHIPMENT_CREATED,
      aggregateType: SHIPMENT_AGGREGATE,
      aggregateId: 'S-1',
      sequence: 1,
      occurredAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      schemaVersion: 1,
      payload: command,
    });
    const { Item: shipment } = await doc.send(
      new GetCommand({ TableName: serviceTable, Key: shipmentKey('S-1'), ConsistentRead: true }),
    );
    expect(shipment).toMatchObject(command);
    // Delivery tracking: the item's TTL was armed at write, and a receipt of the relay lists it.
    const [item] = await outboxItemsOf('S-1');
    expect(item).toMatchObject({ eventId });
    expect(item?.[layout.timeToLiveAttribute]).toEqual(expect.any(Number));
    await vi.waitFor(async () => {
      const receipts = (await outboxTableItems()).filter((i) =>
        String(i[layout.partitionKey]).startsWith('RECEIPT#'),
      );
      expect(receipts.flatMap((receipt) => [...(receipt.published as Set<string>)])).toContain(
        item?.[layout.sortKey],
      );
    }, POLL);
  });

  it('writes neither the outbox item nor an event when the transaction is rejected by a condition', async () => {
    // Prepare: a shipment that exists already, written before (without an event).
    const existing = { ...shipmentKey('S-2'), shipmentId: 'S-2', orderId: 'O-0', carrier: 'first-carrier' };
    await doc.send(new PutCommand({ TableName: serviceTable, Item: existing }));

    // Act
    const rejected = createShipment({ shipmentId: 'S-2', orderId: 'O-2', carrier: 'second-carrier' });

    // Assess: the shipment's condition cancelled the whole transaction, outbox Put included.
    await expect(rejected).rejects.toBeInstanceOf(TransactionCanceledException);
    await expect(rejected).rejects.toMatchObject({
      CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, {}],
    });
    const { Item: shipment } = await doc.send(
      new GetCommand({ TableName: serviceTable, Key: shipmentKey('S-2'), ConsistentRead: true }),
    );
    expect(shipment).toEqual(existing);
    expect(await outboxItemsOf('S-2')).toEqual([]);
    // A later write is relayed; the stream is in order, so had S-2 left an item, its event would be on the bus first.
    await createShipment({ shipmentId: 'S-3', orderId: 'O-3', carrier: 'parcel-co' });
    await vi.waitFor(() => expect(eventsOf('S-3')).toHaveLength(1), POLL);
    expect(eventsOf('S-2')).toEqual([]);
    expect(bus.stats.failedEntries).toEqual({});
  });
});
