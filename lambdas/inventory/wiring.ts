import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  type ConsumerSettings,
  consumerSettings,
  type EnvMap,
  InvalidSettingsError,
} from 'dynamodb-outbox/runtime';
import * as z from '../zod';
import { createInventoryConsumer } from './consumer';
import { DynamoDbReservationStore } from './reservation-store';

export interface InventorySettings {
  readonly inventoryTableName: string;
  readonly consumer: ConsumerSettings;
}

export const readInventorySettings = (env: EnvMap = process.env): InventorySettings => {
  const table = z.string().check(z.minLength(1)).safeParse(env.INVENTORY_TABLE_NAME);
  if (!table.success)
    throw new InvalidSettingsError('Missing required environment variable INVENTORY_TABLE_NAME');
  return { inventoryTableName: table.data, consumer: consumerSettings.fromEnv(env) };
};

/** The one composition point of the inventory consumer, for Lambda and the offline runtime. */
export const buildInventoryHandler = (wiring: {
  settings: InventorySettings;
  clients: { dynamoDb: DynamoDBClient };
  standaloneTimeoutMs?: number;
}) =>
  createInventoryConsumer({
    store: new DynamoDbReservationStore(
      DynamoDBDocumentClient.from(wiring.clients.dynamoDb),
      wiring.settings.inventoryTableName,
    ),
    settings: wiring.settings.consumer,
    dynamoDb: wiring.clients.dynamoDb,
    ...(wiring.standaloneTimeoutMs === undefined ? {} : { standaloneTimeoutMs: wiring.standaloneTimeoutMs }),
  });
