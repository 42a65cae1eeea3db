import type { CreateTableCommandInput, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inventoryTable } from '../../lambdas/inventory/tables';
import { createOutboxTable, createTableAndWait } from '../../packages/dynamodb-outbox/src/local/dynamodb';
import { TIME_ORDERED_TABLE_LAYOUT } from '../../packages/dynamodb-outbox/src/runtime/layout';
import type { TransactionalConsumerSettings } from '../../packages/dynamodb-outbox/src/runtime/settings';

export interface InventoryTableNames {
  /** Reservations and stock levels. */
  readonly inventory: string;
  /** Inventory's outbox (the default, time-ordered layout), which holds its consumer's inbox too. */
  readonly outbox: string;
}

/** The CreateTable request for inventory's table, from the definition the stack deploys. */
export const inventoryTableInput = (tableName: string): CreateTableCommandInput => ({
  TableName: tableName,
  BillingMode: 'PAY_PER_REQUEST',
  AttributeDefinitions: [
    { AttributeName: inventoryTable.partitionKey, AttributeType: 'S' },
    { AttributeName: inventoryTable.sortKey, AttributeType: 'S' },
  ],
  KeySchema: [
    { AttributeName: inventoryTable.partitionKey, KeyType: 'HASH' },
    { AttributeName: inventoryTable.sortKey, KeyType: 'RANGE' },
  ],
});

/** Create inventory's table and its outbox table. */
export const createInventoryTables = async (
  client: DynamoDBClient,
  names: InventoryTableNames,
): Promise<void> => {
  await createTableAndWait(client, inventoryTableInput(names.inventory));
  await createOutboxTable(client, names.outbox, TIME_ORDERED_TABLE_LAYOUT);
};

/** The inventory consumer's settings on those tables, as OutboxConsumer with `transactional` writes them. */
export const inventoryConsumerSettings = (names: InventoryTableNames): TransactionalConsumerSettings => ({
  inboxTtlSeconds: 3600,
  outbox: {
    tableName: names.outbox,
    layout: TIME_ORDERED_TABLE_LAYOUT,
    deliveryTracking: true,
    retentionDays: 7,
  },
});
