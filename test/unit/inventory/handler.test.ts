import { createHash } from 'node:crypto';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import placedFixture from './fixtures/order-placed.json';

// The handler builds its clients and the metrics singleton at import: configure first, the
// consumer's settings through the contract the construct writes them with.
await vi.hoisted(async () => {
  const { consumerSettings } = await import('../../../packages/dynamodb-outbox/src/runtime/settings');
  Object.assign(
    process.env,
    consumerSettings.toEnv({ idempotencyTableName: 'inventory-idempotency', idempotencyTtlSeconds: 194_400 }),
  );
  process.env.INVENTORY_TABLE_NAME = 'inventory';
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  process.env.POWERTOOLS_METRICS_NAMESPACE = 'DynamoDbOutbox';
  process.env.POWERTOOLS_SERVICE_NAME = 'inventory';
});

const ddb = mockClient(DynamoDBClient);
const doc = mockClient(DynamoDBDocumentClient);

/** Just enough of DynamoDB for Powertools' persistence layer: put-if-absent, update, delete. */
const idempotencyItems = new Map<string, Record<string, AttributeValue>>();
const fakeIdempotencyTable = () => {
  idempotencyItems.clear();
  ddb.on(PutItemCommand).callsFake((input: { Item: Record<string, AttributeValue> }) => {
    const id = input.Item.id?.S ?? '';
    const existing = idempotencyItems.get(id);
    if (existing && Number(existing.expiration?.N) > Date.now() / 1000) {
      throw new ConditionalCheckFailedException({ message: 'exists', $metadata: {}, Item: existing });
    }
    idempotencyItems.set(id, input.Item);
    return {};
  });
  ddb
    .on(UpdateItemCommand)
    .callsFake(
      (input: {
        Key: { id: { S: string } };
        ExpressionAttributeNames: Record<string, string>;
        ExpressionAttributeValues: Record<string, AttributeValue>;
      }) => {
        const item = { ...idempotencyItems.get(input.Key.id.S) };
        for (const [alias, name] of Object.entries(input.ExpressionAttributeNames)) {
          const value = input.ExpressionAttributeValues[alias.replace('#', ':')];
          if (value) item[name] = value;
        }
        idempotencyItems.set(input.Key.id.S, item);
        return {};
      },
    );
  ddb.on(DeleteItemCommand).callsFake((input: { Key: { id: { S: string } } }) => {
    idempotencyItems.delete(input.Key.id.S);
    return {};
  });
};

const context = {
  functionName: 'inventory',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;

/** EMF documents the metrics middleware wrote to stdout. */
const emfLines = (writes: unknown[][]) =>
  writes
    .map(([chunk]) => String(chunk))
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line));

describe('inventory handler', () => {
  let handler: (event: unknown, context: Context) => Promise<unknown>;

  beforeAll(async () => {
    ({ handler } = await import('../../../lambdas/inventory/handler'));
  });

  beforeEach(() => {
    ddb.reset();
    doc.reset();
    fakeIdempotencyTable();
    doc.on(GetCommand).resolves({});
    doc.on(TransactWriteCommand).resolves({});
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('emits DuplicateDeliveriesSkipped: 0 for the first delivery, 1 for each duplicate', async () => {
    // Prepare
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);

    // Act
    for (let n = 0; n < 3; n++) await handler({ ...placedFixture, id: `envelope-${n}` }, context);

    // Assess
    const docs = emfLines(stdout.mock.calls);
    expect(docs.map((d) => d.DuplicateDeliveriesSkipped)).toEqual([0, 1, 1]);
    expect(docs[0]._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: 'DynamoDbOutbox',
        Dimensions: [['service']],
        Metrics: [{ Name: 'DuplicateDeliveriesSkipped', Unit: 'Count' }],
      },
    ]);
    expect(docs[0].service).toBe('inventory');
    expect(doc.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });

  it('stores the idempotency record under the detail eventId with the configured TTL', async () => {
    // Prepare
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const before = Math.floor(Date.now() / 1000);

    // Act
    await handler(placedFixture, context);

    // Assess
    const put = ddb.commandCalls(PutItemCommand)[0]?.args[0].input;
    expect(put?.TableName).toBe('inventory-idempotency');
    const eventIdHash = createHash('md5')
      .update(JSON.stringify(placedFixture.detail.eventId))
      .digest('base64');
    expect(put?.Item?.id?.S).toBe(`inventory#${eventIdHash}`);
    expect(Number(put?.Item?.expiration?.N)).toBeGreaterThanOrEqual(before + 194_400);
    expect(Number(put?.Item?.expiration?.N)).toBeLessThanOrEqual(before + 194_400 + 5);
  });
});
