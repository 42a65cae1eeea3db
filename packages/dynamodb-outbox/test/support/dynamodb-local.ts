import { randomUUID } from 'node:crypto';
import { createOutboxTable, type DynamoDbLocal, startDynamoDbLocal } from '../../src/local/dynamodb';
import { claimPort } from '../../src/local/ports';
import { ordersOutboxLayout } from './sample-table';

/** Start an in-memory DynamoDB Local on a free port for one test file. */
export const startTestDynamoDb = async (): Promise<DynamoDbLocal> => startDynamoDbLocal(await claimPort(0));

/** A fresh orders table with a unique name, so tests in one file never see each other's items. */
export const createTestOrdersTable = async (db: DynamoDbLocal): Promise<string> => {
  const tableName = `orders-${randomUUID().slice(0, 8)}`;
  await createOutboxTable(db.client, tableName, ordersOutboxLayout);
  return tableName;
};
