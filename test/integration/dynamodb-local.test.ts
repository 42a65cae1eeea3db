import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoDbLocal } from '../../local/dynamodb';
import { createTestOrdersTable, startTestDynamoDb } from '../support/dynamodb-local';

describe('DynamoDB Local orders table', () => {
  let db: DynamoDbLocal;
  beforeAll(async () => {
    db = await startTestDynamoDb();
  });
  afterAll(async () => {
    await db?.stop();
  });

  it('is created with the stream, TTL and pending index the stack deploys', async () => {
    const tableName = await createTestOrdersTable(db);
    const { Table } = await db.client.send(new DescribeTableCommand({ TableName: tableName }));
    expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_IMAGE' });
    expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual(['pending-outbox']);
    const ttl = await db.client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    expect(ttl.TimeToLiveDescription).toMatchObject({
      AttributeName: 'expiresAt',
      TimeToLiveStatus: 'ENABLED',
    });
  });
});
