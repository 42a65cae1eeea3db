import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../src/local';
import { outboxKeyOf, outboxLayoutSchema, type TimeOrderedLayout } from '../../src/runtime/layout';

/*
 * `TransactionalOutbox` with `shardCount: 64`, run offline as the template declares it: the writer
 * reads the layout from the settings the construct put in its environment, so one shipment per
 * shard fills all 64 partitions of the outbox table's minute, and the relay publishes every one.
 */

const appDir = fileURLToPath(new URL('../fixtures/wide-outbox', import.meta.url));

const shardOf = (layout: TimeOrderedLayout, shipmentId: string): string => {
  const key = outboxKeyOf(
    layout,
    { aggregateType: 'Shipment', aggregateId: shipmentId, sequence: 1 },
    { writtenAt: new Date() },
  );
  const partition = String(key[layout.partitionKey]);
  return partition.slice(partition.lastIndexOf('#') + 1);
};

describe('an outbox with 64 shards, offline', () => {
  let runtime: LocalRuntime;

  beforeAll(async () => {
    runtime = await startLocalRuntime({ appDir, apiPort: 0, dynamoDbPort: 0, schedules: false });
  }, 180_000);

  afterAll(async () => {
    await runtime?.stop();
    // The synthesized assembly the runtime caches beside the app.
    rmSync(new URL('../fixtures/wide-outbox/.local', import.meta.url), { recursive: true, force: true });
  });

  it('writes one shipment into each of the 64 partitions of its minute, and the relay publishes each', async () => {
    // Prepare: the layout as the stack outputs it, and a shipment id for each of its shards.
    const layout = outboxLayoutSchema.parse(JSON.parse(runtime.outputs.OutboxLayout ?? 'null'));
    if (layout.kind !== 'time-ordered-table') throw new Error('expected the time-ordered layout');
    expect(layout.shardCount).toBe(64);
    const byShard = new Map<string, string>();
    for (let n = 0; byShard.size < 64; n++) {
      const id = `S-${n}`;
      if (!byShard.has(shardOf(layout, id))) byShard.set(shardOf(layout, id), id);
    }

    // Act
    const eventIds: string[] = [];
    for (const shipmentId of byShard.values()) {
      const { eventId } = (await runtime
        .function('CreateShipment')
        .invoke({ shipmentId, orderId: 'O-1', carrier: 'DHL' })) as { eventId: string };
      eventIds.push(eventId);
    }

    // Assess: the items sit in 64 shards, and every event reaches the bus once.
    const doc = DynamoDBDocumentClient.from(runtime.dynamoDb.client);
    const { Items = [] } = await doc.send(
      new ScanCommand({
        TableName: runtime.tableName('Outbox/OutboxTable'),
        FilterExpression: 'begins_with(sk, :outbox)',
        ExpressionAttributeValues: { ':outbox': layout.sortKeyPrefix },
        ConsistentRead: true,
      }),
    );
    const shards = new Set(Items.map((item) => String(item.pk).slice(String(item.pk).lastIndexOf('#') + 1)));
    expect(shards.size).toBe(64);
    await expect
      .poll(
        () =>
          runtime.eventBus
            .events()
            .map(({ event }) => event.detail.eventId as string)
            .sort(),
        {
          timeout: 30_000,
        },
      )
      .toEqual([...eventIds].sort());
  });
});
