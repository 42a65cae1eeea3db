import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { formatStatus, outboxStatus } from '../../../cli/status';
import type { OutboxTarget } from '../../../cli/target';
import { ordersOutboxLayout } from '../../../lambdas/orders/table';
import { sameTableLayout } from '../../../lambdas/outbox/layout';

/** Another service's table: pk/sk, the default pending index. */
const OTHER_LAYOUT = sameTableLayout({ partitionKey: 'pk', sortKey: 'sk' });

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);

const target: OutboxTarget = {
  description: 'test',
  doc: DynamoDBDocumentClient.from(new DynamoDBClient({})),
  eventBridge: new EventBridgeClient({}),
  sqs: new SQSClient({}),
  tableName: 'orders',
  layout: ordersOutboxLayout,
  eventBusName: 'orders',
  source: 'orders',
  retentionDays: 7,
  queues: [
    { name: 'PoisonQueue', url: 'https://sqs/poison' },
    { name: 'InventoryDeadLetterQueue', url: 'https://sqs/inventory-dlq' },
  ],
  notes: [],
  destroy: () => undefined,
};

describe('outbox status', () => {
  beforeEach(() => {
    ddb.reset();
    sqs.reset();
  });

  it('counts the pending index over all shards and finds the oldest pending event', async () => {
    // Prepare
    ddb
      .on(QueryCommand)
      .resolves({ Count: 0, Items: [] })
      .on(QueryCommand, { Select: 'COUNT', ExpressionAttributeValues: { ':shard': 'PENDING#2' } })
      .resolvesOnce({ Count: 3, LastEvaluatedKey: { PK: 'x' } })
      .resolvesOnce({ Count: 2 })
      .on(QueryCommand, { Select: 'COUNT', ExpressionAttributeValues: { ':shard': 'PENDING#7' } })
      .resolves({ Count: 1 })
      .on(QueryCommand, { Limit: 1, ExpressionAttributeValues: { ':shard': 'PENDING#2' } })
      .resolves({ Items: [{ occurredAt: '2026-11-22T11:00:00.000Z' }] })
      .on(QueryCommand, { Limit: 1, ExpressionAttributeValues: { ':shard': 'PENDING#7' } })
      .resolves({ Items: [{ occurredAt: '2026-11-22T10:30:00.000Z' }] });
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '4', ApproximateNumberOfMessagesNotVisible: '1' },
    });

    // Act
    const status = await outboxStatus(target, new Date('2026-11-22T12:00:00.000Z'));

    // Assess
    expect(status).toMatchObject({
      pending: 6,
      oldestPendingOccurredAt: '2026-11-22T10:30:00.000Z',
      oldestPendingAgeSeconds: 5400,
    });
    expect(status.queues).toEqual([
      { name: 'PoisonQueue', url: 'https://sqs/poison', messages: 4, inFlight: 1 },
      { name: 'InventoryDeadLetterQueue', url: 'https://sqs/inventory-dlq', messages: 4, inFlight: 1 },
    ]);
    const counted = ddb.commandCalls(QueryCommand).filter((c) => c.args[0].input.Select === 'COUNT');
    expect(counted[0]?.args[0].input).toMatchObject({ TableName: 'orders', IndexName: 'pending-outbox' });
    expect(counted).toHaveLength(9);
  });

  it('reports an unreadable queue without hiding the others', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Count: 0, Items: [] });
    sqs
      .on(GetQueueAttributesCommand)
      .resolves({
        Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' },
      })
      .on(GetQueueAttributesCommand, { QueueUrl: 'https://sqs/poison' })
      .rejects(Object.assign(new Error('Access to the resource is denied.'), { name: 'AccessDenied' }));

    // Act
    const status = await outboxStatus(target);

    // Assess
    expect(status.pending).toBe(0);
    expect(status.oldestPendingAgeSeconds).toBeUndefined();
    expect(status.queues.map((q) => [q.name, q.messages, q.error])).toEqual([
      ['PoisonQueue', undefined, 'Access to the resource is denied.'],
      ['InventoryDeadLetterQueue', 0, undefined],
    ]);
  });

  it("reads the pending index of another service's table, as its layout names it", async () => {
    // Prepare
    const dedicated: OutboxTarget = { ...target, tableName: 'outbox', layout: OTHER_LAYOUT };
    ddb
      .on(QueryCommand)
      .resolves({ Count: 0, Items: [] })
      .on(QueryCommand, { Select: 'COUNT', ExpressionAttributeValues: { ':shard': 'PENDING#5' } })
      .resolves({ Count: 2 })
      .on(QueryCommand, { Limit: 1, ExpressionAttributeValues: { ':shard': 'PENDING#5' } })
      .resolves({ Items: [{ occurredAt: '2026-11-22T11:59:00.000Z' }] });
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: {} });

    // Act
    const status = await outboxStatus(dedicated, new Date('2026-11-22T12:00:00.000Z'));

    // Assess
    expect(status).toMatchObject({ table: 'outbox', pending: 2, oldestPendingAgeSeconds: 60 });
    const queries = ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(queries).toHaveLength(2 * OTHER_LAYOUT.pendingIndex.shardCount);
    for (const query of queries)
      expect(query).toMatchObject({
        TableName: 'outbox',
        IndexName: OTHER_LAYOUT.pendingIndex.indexName,
        ExpressionAttributeNames: { '#shard': OTHER_LAYOUT.pendingIndex.shardAttribute },
      });
  });

  it('counts as many shards as the layout has', async () => {
    // Prepare
    const layout = {
      ...OTHER_LAYOUT,
      pendingIndex: { indexName: 'pending', shardAttribute: 'shard', shardCount: 3 },
    };
    ddb.on(QueryCommand).resolves({ Count: 1, Items: [] });

    // Act
    const status = await outboxStatus({ ...target, layout, queues: [] });

    // Assess
    expect(status.pending).toBe(3);
    const shards = ddb
      .commandCalls(QueryCommand)
      .filter((c) => c.args[0].input.Select === 'COUNT')
      .map((c) => c.args[0].input.ExpressionAttributeValues?.[':shard']);
    expect(shards).toEqual(['PENDING#0', 'PENDING#1', 'PENDING#2']);
  });

  it('prints a table an operator can read at a glance', () => {
    // Act
    const text = formatStatus({
      target: 'local runtime',
      table: 'orders',
      pending: 2,
      oldestPendingOccurredAt: '2026-11-22T10:30:00.000Z',
      oldestPendingAgeSeconds: 5400,
      queues: [
        { name: 'outbox-poison', url: 'u1', messages: 1, inFlight: 0 },
        { name: 'inventory-dlq', url: 'u2', error: 'denied' },
      ],
      notes: ['something to know'],
    });

    // Assess
    expect(text.split('\n')).toEqual([
      'Outbox status: local runtime',
      '  table                 orders',
      '  pending events        2',
      '  oldest pending        90 min (occurred 2026-11-22T10:30:00.000Z)',
      '',
      'Queues                  messages  in flight',
      '  outbox-poison         1         0',
      '  inventory-dlq         unreadable: denied',
      '',
      'Note: something to know',
    ]);
  });
});
