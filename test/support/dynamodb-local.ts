import { randomUUID } from 'node:crypto';
import { createOrdersTable, type DynamoDbLocal, startDynamoDbLocal } from '../../local/dynamodb';
import { claimPort } from '../../local/ports';

/** Start an in-memory DynamoDB Local on a free port for one test file. */
export const startTestDynamoDb = async (): Promise<DynamoDbLocal> => startDynamoDbLocal(await claimPort(0));

/** A fresh orders table with a unique name, so tests in one file never see each other's items. */
export const createTestOrdersTable = async (db: DynamoDbLocal): Promise<string> => {
  const tableName = `orders-${randomUUID().slice(0, 8)}`;
  await createOrdersTable(db.client, tableName);
  return tableName;
};
