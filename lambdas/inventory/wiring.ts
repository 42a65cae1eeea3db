import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  type EnvMap,
  InvalidSettingsError,
  type TransactionalConsumerSettings,
  transactionalConsumerSettings,
} from 'dynamodb-outbox/runtime';
import * as z from '../zod';
import { createInventoryConsumer } from './consumer';
import { InventoryStore } from './inventory-store';

export interface InventorySettings {
  readonly inventoryTableName: string;
  readonly consumer: TransactionalConsumerSettings;
}

/** The inventory table's name, from the variable the Inventory construct sets. */
export const readInventoryTableName = (env: EnvMap = process.env): string => {
  const table = z.string().check(z.minLength(1)).safeParse(env.INVENTORY_TABLE_NAME);
  if (!table.success)
    throw new InvalidSettingsError('Missing required environment variable INVENTORY_TABLE_NAME');
  return table.data;
};

export const readInventorySettings = (env: EnvMap = process.env): InventorySettings => ({
  inventoryTableName: readInventoryTableName(env),
  consumer: transactionalConsumerSettings.fromEnv(env),
});

export const inventoryStore = (dynamoDb: DynamoDBClient, tableName: string): InventoryStore =>
  new InventoryStore(DynamoDBDocumentClient.from(dynamoDb), tableName);

/** The one composition point of the inventory consumer, for Lambda and the offline runtime. */
export const buildInventoryHandler = (wiring: {
  settings: InventorySettings;
  clients: { dynamoDb: DynamoDBClient };
  now?: () => Date;
}) =>
  createInventoryConsumer({
    store: inventoryStore(wiring.clients.dynamoDb, wiring.settings.inventoryTableName),
    settings: wiring.settings.consumer,
    dynamoDb: wiring.clients.dynamoDb,
    ...(wiring.now === undefined ? {} : { now: wiring.now }),
  });
