import { randomUUID } from 'node:crypto';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createInventoryConsumer, type DeliveryResult } from '../../lambdas/inventory/consumer';
import { InventoryStore } from '../../lambdas/inventory/inventory-store';
import { inventorySubscription } from '../../lambdas/inventory/subscription';
import { ordersRoutes } from '../../lambdas/orders/http/routes';
import { ordersOutboxLayout } from '../../lambdas/orders/table';
import { buildOrdersHandler } from '../../lambdas/orders/wiring';
import { DeliveryReceipts } from '../../packages/dynamodb-outbox/src/engine/delivery-tracking';
import { listingFor } from '../../packages/dynamodb-outbox/src/engine/outbox-listing/listing-for';
import { TimeOrderedOutbox } from '../../packages/dynamodb-outbox/src/engine/pending-outbox';
import { OutboxPublisher } from '../../packages/dynamodb-outbox/src/engine/publisher';
import { localClientConfig } from '../../packages/dynamodb-outbox/src/local/clients';
import type { DynamoDbLocal } from '../../packages/dynamodb-outbox/src/local/dynamodb';
import {
  type FaultSettings,
  type LocalEventBus,
  startLocalEventBus,
} from '../../packages/dynamodb-outbox/src/local/event-bus';
import { type LocalHttpApi, startLocalHttpApi } from '../../packages/dynamodb-outbox/src/local/http-server';
import { createTestOrdersTable } from '../../packages/dynamodb-outbox/test/support/dynamodb-local';
import { createInventoryTables, inventoryConsumerSettings } from '../support/inventory-tables';
import { testOrdersSettings } from '../support/orders-settings';

/**
 * The pieces of the flow the consumer tests need, from the building blocks the offline runtime
 * uses: the real orders API over HTTP on DynamoDB Local, the local EventBridge endpoint with the
 * inventory subscription, and the inventory consumer (transactional) with its real outbox table. The relay
 * or the reconciler, whichever a test is about, is started by the test itself.
 */
export interface InventoryFlow {
  readonly tableName: string;
  readonly doc: DynamoDBDocumentClient;
  readonly bus: LocalEventBus;
  /** A publisher to the local bus, as the relay and the reconciler build it. */
  readonly publisher: OutboxPublisher;
  readonly eventBridge: EventBridgeClient;
  readonly store: InventoryStore;
  /** Every consumer delivery that succeeded, in completion order. */
  readonly deliveries: DeliveryResult[];
  placeOrder(lines: ReadonlyArray<{ sku: string; quantity: number }>): Promise<string>;
  cancelOrder(orderId: string): Promise<void>;
  /** Outbox items no receipt names yet, as the reconciler lists them. */
  pendingCount(): Promise<number>;
  /**
   * The orders table as the reconciler reads it (its time index and the receipts), reading back
   * ten minutes: everything a test writes.
   */
  outbox(): { readonly pending: TimeOrderedOutbox; readonly tracker: DeliveryReceipts };
  /** Reservation records by state. */
  reservationStates(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export const startInventoryFlow = async (
  db: DynamoDbLocal,
  options: {
    readonly deliveryTracking?: boolean;
    readonly faults?: Partial<FaultSettings>;
    readonly seed?: number;
  } = {},
): Promise<InventoryFlow> => {
  const tableName = await createTestOrdersTable(db);
  const doc = DynamoDBDocumentClient.from(db.client);
  const api: LocalHttpApi = await startLocalHttpApi({
    routes: ordersRoutes,
    handler: buildOrdersHandler({
      settings: testOrdersSettings(tableName, { deliveryTracking: options.deliveryTracking ?? true }),
      clients: { dynamoDb: db.client },
    }),
    port: 0,
  });

  const suffix = randomUUID().slice(0, 8);
  const names = { inventory: `inventory-${suffix}`, outbox: `inventory-outbox-${suffix}` };
  await createInventoryTables(db.client, names);
  const store = new InventoryStore(doc, names.inventory);
  const consume = createInventoryConsumer({
    store,
    settings: inventoryConsumerSettings(names),
    dynamoDb: db.client,
  });
  const deliveries: DeliveryResult[] = [];
  const bus = await startLocalEventBus({
    port: 0,
    retryBaseDelayMs: 20,
    retryMaxDelayMs: 200,
    ...(options.faults ? { faults: options.faults } : {}),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
  });
  bus.subscribe(inventorySubscription('orders'), async (event) => {
    deliveries.push(await consume(event));
  });
  const eventBridge = new EventBridgeClient(localClientConfig(bus.endpoint));
  const publisher = new OutboxPublisher({ eventBridge, eventBusName: 'orders', source: 'orders' });

  const post = async (path: string, body?: unknown) => {
    const response = await fetch(`${api.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (response.status >= 300) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as { orderId: string };
  };

  const outbox = () => {
    const tracker = new DeliveryReceipts(doc, { tableName, layout: ordersOutboxLayout, retentionDays: 7 });
    const pending = new TimeOrderedOutbox(doc, {
      tableName,
      layout: ordersOutboxLayout,
      items: listingFor(doc, tableName, ordersOutboxLayout),
      receipts: tracker,
      lookbackSeconds: 600,
    });
    return { pending, tracker };
  };
  return {
    tableName,
    doc,
    bus,
    publisher,
    eventBridge,
    store,
    deliveries,
    placeOrder: async (lines) =>
      (
        await post('/orders', {
          customerId: 'customer-1',
          currency: 'EUR',
          lines: lines.map((line) => ({ ...line, unitPrice: 100 })),
        })
      ).orderId,
    cancelOrder: async (orderId) => {
      await post(`/orders/${orderId}/cancel`, { reason: 'test' });
    },
    outbox,
    pendingCount: async () => {
      const { pending } = outbox();
      // Ten minutes ahead: nothing written is too young to count.
      const before = new Date(Date.now() + 600_000).toISOString();
      let count = 0;
      for (const partition of await pending.shards(before)) {
        let startKey: Record<string, unknown> | undefined;
        do {
          const page = await pending.page(partition, before, 1000, startKey);
          count += page.records.length + page.malformed.length;
          startKey = page.nextKey;
        } while (startKey !== undefined);
      }
      return count;
    },
    reservationStates: async () => {
      const states: Record<string, number> = {};
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(
          new ScanCommand({
            TableName: names.inventory,
            FilterExpression: 'SK = :sk',
            ExpressionAttributeValues: { ':sk': 'RESERVATION' },
            ConsistentRead: true,
            ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          }),
        );
        for (const item of page.Items ?? []) states[item.state] = (states[item.state] ?? 0) + 1;
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return states;
    },
    stop: async () => {
      await bus.stop();
      eventBridge.destroy();
      await api.close();
    },
  };
};

/** Poll until `check` holds; tests never sleep for a condition. */
export const eventually = async (check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};
