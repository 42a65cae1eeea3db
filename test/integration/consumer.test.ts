import { randomUUID } from 'node:crypto';
import { IdempotencyValidationError } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createInventoryConsumer } from '../../lambdas/inventory/consumer';
import { DynamoDbReservationStore } from '../../lambdas/inventory/reservation-store';
import type { DynamoDbLocal } from '../../packages/dynamodb-outbox/src/local/dynamodb';
import { startTestDynamoDb } from '../../packages/dynamodb-outbox/test/support/dynamodb-local';
import { createInventoryTables, type InventoryTableNames } from '../support/inventory-tables';
import cancelledFixture from '../unit/inventory/fixtures/order-cancelled.json';
import placedFixture from '../unit/inventory/fixtures/order-placed.json';

const TTL_SECONDS = 3 * 24 * 60 * 60;

/** A placed + cancelled pair for a fresh order, as EventBridge would deliver them. */
const orderEvents = (orderId: string, skus: string[]) => {
  const placed = structuredClone(placedFixture);
  placed.detail.eventId = `placed-${orderId}`;
  placed.detail.aggregateId = orderId;
  placed.detail.payload.orderId = orderId;
  placed.detail.payload.lines = skus.map((sku, i) => ({ sku, quantity: i + 1, unitPrice: 100 }));
  const cancelled = structuredClone(cancelledFixture);
  cancelled.detail.eventId = `cancelled-${orderId}`;
  cancelled.detail.aggregateId = orderId;
  cancelled.detail.payload.orderId = orderId;
  return { placed, cancelled };
};

const redeliver = <T extends { id: string }>(event: T): T => ({
  ...structuredClone(event),
  id: randomUUID(),
});

describe('inventory consumer on DynamoDB Local', () => {
  let db: DynamoDbLocal;
  let names: InventoryTableNames;
  let store: DynamoDbReservationStore;
  let consume: ReturnType<typeof createInventoryConsumer>;

  beforeAll(async () => {
    db = await startTestDynamoDb();
  });
  afterAll(async () => {
    await db?.stop();
  });

  beforeEach(async () => {
    const suffix = randomUUID().slice(0, 8);
    names = { inventory: `inventory-${suffix}`, idempotency: `inventory-idempotency-${suffix}` };
    await createInventoryTables(db.client, names);
    store = new DynamoDbReservationStore(DynamoDBDocumentClient.from(db.client), names.inventory);
    consume = createInventoryConsumer({
      store,
      persistenceStore: new DynamoDBPersistenceLayer({
        tableName: names.idempotency,
        awsSdkV3Client: db.client,
      }),
      idempotencyTtlSeconds: TTL_SECONDS,
    });
  });

  it('reserves once for three deliveries of the same event', async () => {
    // Act
    const results = [];
    for (let n = 0; n < 3; n++) results.push(await consume(redeliver(placedFixture)));

    // Assess
    expect(results.map((r) => r.duplicate)).toEqual([false, true, true]);
    expect(await store.reservedQuantity('SKU-RED-MUG')).toBe(3);
    expect(await store.reservedQuantity('SKU-TEA-100G')).toBe(1);
  });

  it('remembers the event in the idempotency table for the configured window', async () => {
    // Prepare
    const before = Math.floor(Date.now() / 1000);

    // Act
    await consume(redeliver(placedFixture));

    // Assess
    const { Items = [] } = await db.client.send(new ScanCommand({ TableName: names.idempotency }));
    expect(Items).toHaveLength(1);
    const record = unmarshall(Items[0] ?? {});
    expect(record.status).toBe('COMPLETED');
    expect(record.expiration).toBeGreaterThanOrEqual(before + TTL_SECONDS);
    expect(record.expiration).toBeLessThan(before + TTL_SECONDS + 10);
  });

  it('throws for a reused eventId with a different body and leaves the reservation as it was', async () => {
    // Prepare
    await consume(redeliver(placedFixture));
    const tampered = redeliver(placedFixture);
    tampered.detail.payload.lines = [{ sku: 'SKU-RED-MUG', quantity: 50, unitPrice: 1250 }];

    // Act
    const attempt = consume(tampered);

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(IdempotencyValidationError);
    expect(await store.reservedQuantity('SKU-RED-MUG')).toBe(3);
  });

  it('holds nothing when the cancel is delivered first, and keeps the tombstone', async () => {
    // Act
    await consume(redeliver(cancelledFixture));
    const latePlace = await consume(redeliver(placedFixture));

    // Assess
    expect(latePlace.outcome).toBe('stale');
    expect(await store.reservedQuantity('SKU-RED-MUG')).toBe(0);
    const { Item } = await db.client.send(
      new GetItemCommand({
        TableName: names.inventory,
        Key: { PK: { S: `ORDER#${placedFixture.detail.aggregateId}` }, SK: { S: 'RESERVATION' } },
      }),
    );
    expect(unmarshall(Item ?? {})).toMatchObject({ state: 'CANCELLED', sequence: 2 });
  });

  it('converges when duplicates of both events of many orders arrive concurrently and shuffled', async () => {
    // Prepare: 40 orders on 3 shared skus; every other one cancelled; each event delivered 2-3 times.
    const skus = ['SKU-A', 'SKU-B', 'SKU-C'];
    const deliveries: unknown[] = [];
    let expectedA = 0;
    for (let o = 0; o < 40; o++) {
      const { placed, cancelled } = orderEvents(`order-${o}`, skus);
      const cancel = o % 2 === 1;
      for (let n = 0; n < 2 + (o % 2); n++) {
        deliveries.push(redeliver(placed));
        if (cancel) deliveries.push(redeliver(cancelled));
      }
      if (!cancel) expectedA += 1;
    }
    deliveries.sort(() => Math.random() - 0.5);

    // Act: 16 in flight at a time, like concurrent Lambda invocations. An in-progress duplicate is
    // retried, as Lambda's asynchronous invocation would.
    const queue = [...deliveries];
    const worker = async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        for (;;) {
          try {
            await consume(next);
            break;
          } catch (error) {
            if (!(error instanceof Error && error.name === 'IdempotencyAlreadyInProgressError')) throw error;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));

    // Assess
    expect(await store.reservedQuantity('SKU-A')).toBe(expectedA * 1);
    expect(await store.reservedQuantity('SKU-B')).toBe(expectedA * 2);
    expect(await store.reservedQuantity('SKU-C')).toBe(expectedA * 3);
  });
});
