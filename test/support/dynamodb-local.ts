import { randomUUID } from 'node:crypto';
import type { OrdersSettings } from '../../lambdas/orders/config';
import {
  createOutboxTable,
  type DynamoDbLocal,
  startDynamoDbLocal,
} from '../../packages/dynamodb-outbox/src/local/dynamodb';
import { claimPort } from '../../packages/dynamodb-outbox/src/local/ports';
import { ordersOutboxLayout } from '../../packages/dynamodb-outbox/test/support/sample-table';

/** Start an in-memory DynamoDB Local on a free port for one test file. */
export const startTestDynamoDb = async (): Promise<DynamoDbLocal> => startDynamoDbLocal(await claimPort(0));

/** A fresh orders table with a unique name, so tests in one file never see each other's items. */
export const createTestOrdersTable = async (db: DynamoDbLocal): Promise<string> => {
  const tableName = `orders-${randomUUID().slice(0, 8)}`;
  await createOutboxTable(db.client, tableName, ordersOutboxLayout);
  return tableName;
};

/** The orders API's settings for a test table, as the stack would write them (`grantWrite`). */
export const testOrdersSettings = (
  tableName: string,
  outbox: { readonly deliveryTracking?: boolean; readonly retentionDays?: number } = {},
): OrdersSettings => ({
  tableName,
  outbox: {
    tableName,
    layout: ordersOutboxLayout,
    deliveryTracking: outbox.deliveryTracking ?? true,
    retentionDays: outbox.retentionDays ?? 7,
  },
});
