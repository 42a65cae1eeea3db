import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { instrumented, traced } from 'dynamodb-outbox/runtime';
import { createStockLevelHandler } from './stock-level';
import { inventoryStore, readInventoryTableName } from './wiring';

/** Invoked directly (RequestResponse): reads or sets one SKU's stock. */
export const handler = instrumented(
  createStockLevelHandler(inventoryStore(traced(new DynamoDBClient({})), readInventoryTableName())),
  { resetKeys: true },
);
