import {
  type CreateTableCommandInput,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { inventoryTable } from '../../lambdas/inventory/tables';
import { createTableAndWait, tableExists } from '../../packages/dynamodb-outbox/src/local/dynamodb';
import { IDEMPOTENCY_TABLE as idempotencyTable } from '../../packages/dynamodb-outbox/src/runtime/subscription';

export interface InventoryTableNames {
  readonly inventory: string;
  readonly idempotency: string;
}

/** The CreateTable requests for inventory's tables, from the definitions the stack deploys. */
export const inventoryTableInputs = (names: InventoryTableNames): CreateTableCommandInput[] => [
  {
    TableName: names.inventory,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: inventoryTable.partitionKey, AttributeType: 'S' },
      { AttributeName: inventoryTable.sortKey, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: inventoryTable.partitionKey, KeyType: 'HASH' },
      { AttributeName: inventoryTable.sortKey, KeyType: 'RANGE' },
    ],
  },
  {
    TableName: names.idempotency,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: idempotencyTable.partitionKey, AttributeType: 'S' }],
    KeySchema: [{ AttributeName: idempotencyTable.partitionKey, KeyType: 'HASH' }],
  },
];

/** Create inventory's table and its idempotency table (with TTL) unless they exist already. */
export const createInventoryTables = async (
  client: DynamoDBClient,
  names: InventoryTableNames,
): Promise<void> => {
  for (const input of inventoryTableInputs(names)) {
    if (!(await tableExists(client, input.TableName ?? ''))) await createTableAndWait(client, input);
  }
  await client
    .send(
      new UpdateTimeToLiveCommand({
        TableName: names.idempotency,
        TimeToLiveSpecification: { AttributeName: idempotencyTable.timeToLiveAttribute, Enabled: true },
      }),
    )
    .catch((error: unknown) => {
      // Re-running against an on-disk DynamoDB Local: TTL is already on.
      if (!(error instanceof Error && /already enabled/i.test(error.message))) throw error;
    });
};
