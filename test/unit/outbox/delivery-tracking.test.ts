import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { expiresAtFor, markParked, markPublished } from '../../../lambdas/outbox/delivery-tracking';
import { outboxItem } from './support';

const docMock = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const NOW = new Date('2026-11-22T10:00:05.000Z');
const named = (name: string, message = name) => Object.assign(new Error(message), { name });

describe('markPublished', () => {
  beforeEach(() => {
    docMock.reset();
  });

  it('sets publishedAt and arms the TTL, leaves the pending index, only if the item still exists', async () => {
    // Prepare
    docMock.on(UpdateCommand).resolves({});
    const item = outboxItem(1);
    // Act
    const result = await markPublished(doc, 'orders', [item], NOW, 7);
    // Assess
    expect(result).toEqual({ marked: 1, missing: 0, failed: [] });
    expect(docMock.commandCalls(UpdateCommand)[0]?.args[0].input).toEqual({
      TableName: 'orders',
      Key: { PK: item.PK, SK: item.SK },
      UpdateExpression: 'SET #publishedAt = :publishedAt, #expiresAt = :expiresAt REMOVE #pendingShard',
      ConditionExpression: 'attribute_exists(#pk)',
      ExpressionAttributeNames: {
        '#pk': 'PK',
        '#publishedAt': 'publishedAt',
        '#expiresAt': 'expiresAt',
        '#pendingShard': 'pendingShard',
      },
      ExpressionAttributeValues: {
        ':publishedAt': '2026-11-22T10:00:05.000Z',
        ':expiresAt': Math.floor(NOW.getTime() / 1000) + 7 * 86_400,
      },
    });
    expect(expiresAtFor(NOW, 1)).toBe(Date.UTC(2026, 10, 23, 10, 0, 5) / 1000);
  });

  it('counts an item that is already gone as missing, not as an error', async () => {
    // Prepare
    docMock.on(UpdateCommand).rejects(named('ConditionalCheckFailedException'));
    // Act
    const result = await markPublished(doc, 'orders', [outboxItem(1)], NOW, 7);
    // Assess
    expect(result).toEqual({ marked: 0, missing: 1, failed: [] });
  });

  it('reports other failures per item instead of throwing', async () => {
    // Prepare
    const items = [outboxItem(1), outboxItem(2)];
    docMock
      .on(UpdateCommand, { Key: { PK: items[1]?.PK, SK: items[1]?.SK } })
      .rejects(named('ProvisionedThroughputExceededException', 'slow down'))
      .on(UpdateCommand, { Key: { PK: items[0]?.PK, SK: items[0]?.SK } })
      .resolves({});
    // Act
    const result = await markPublished(doc, 'orders', items, NOW, 7);
    // Assess
    expect(result.marked).toBe(1);
    expect(result.failed).toEqual([
      { item: items[1], errorCode: 'ProvisionedThroughputExceededException', errorMessage: 'slow down' },
    ]);
  });

  it('keeps at most `concurrency` updates in flight', async () => {
    // Prepare
    let inFlight = 0;
    let peak = 0;
    docMock.on(UpdateCommand).callsFake(async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      return {};
    });
    const items = Array.from({ length: 20 }, (_, i) => outboxItem(i));
    // Act
    const result = await markPublished(doc, 'orders', items, NOW, 7, { concurrency: 3 });
    // Assess
    expect(result.marked).toBe(20);
    expect(peak).toBe(3);
  });

  it('refuses a retention that would expire items at once', async () => {
    await expect(markPublished(doc, 'orders', [outboxItem(1)], NOW, 0)).rejects.toThrow(/retentionDays/);
  });
});

describe('markParked', () => {
  beforeEach(() => {
    docMock.reset();
  });

  it('sets parkedAt and leaves the pending index, TTL unarmed, only if the item still exists', async () => {
    // Prepare
    docMock.on(UpdateCommand).resolves({});
    const { PK, SK } = outboxItem(1);
    // Act
    const result = await markParked(doc, 'orders', [{ PK, SK }], NOW);
    // Assess
    expect(result).toEqual({ marked: 1, missing: 0, failed: [] });
    expect(docMock.commandCalls(UpdateCommand).map((c) => c.args[0].input)).toEqual([
      {
        TableName: 'orders',
        Key: { PK, SK },
        UpdateExpression: 'SET #parkedAt = :parkedAt REMOVE #pendingShard',
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { '#pk': 'PK', '#parkedAt': 'parkedAt', '#pendingShard': 'pendingShard' },
        ExpressionAttributeValues: { ':parkedAt': '2026-11-22T10:00:05.000Z' },
      },
    ]);
  });

  it('counts a gone item as missing and reports other failures by key, without throwing', async () => {
    // Prepare
    const keyOf = (n: number) => ({ PK: outboxItem(n).PK, SK: outboxItem(n).SK });
    const [gone, throttled, parked] = [keyOf(1), keyOf(2), keyOf(3)];
    docMock
      .on(UpdateCommand, { Key: gone })
      .rejects(named('ConditionalCheckFailedException'))
      .on(UpdateCommand, { Key: throttled })
      .rejects(named('ProvisionedThroughputExceededException', 'slow down'))
      .on(UpdateCommand, { Key: parked })
      .resolves({});
    // Act
    const result = await markParked(doc, 'orders', [gone, throttled, parked], NOW);
    // Assess
    expect(result).toEqual({
      marked: 1,
      missing: 1,
      failed: [
        { key: throttled, errorCode: 'ProvisionedThroughputExceededException', errorMessage: 'slow down' },
      ],
    });
  });

  it('keeps at most `concurrency` updates in flight', async () => {
    // Prepare
    let inFlight = 0;
    let peak = 0;
    docMock.on(UpdateCommand).callsFake(async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      return {};
    });
    const keys = Array.from({ length: 12 }, (_, i) => {
      const { PK, SK } = outboxItem(i);
      return { PK, SK };
    });
    // Act
    const result = await markParked(doc, 'orders', keys, NOW, { concurrency: 2 });
    // Assess
    expect(result.marked).toBe(12);
    expect(peak).toBe(2);
  });
});
