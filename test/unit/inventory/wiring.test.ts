import { describe, expect, it } from 'vitest';
import { readInventorySettings } from '../../../lambdas/inventory/wiring';
import {
  consumerSettings,
  InvalidSettingsError,
} from '../../../packages/dynamodb-outbox/src/runtime/settings';

const consumer = { idempotencyTableName: 'inventory-idempotency', idempotencyTtlSeconds: 194_400 };

describe('readInventorySettings', () => {
  it("reads its table and the consumer's settings from the construct's contract", () => {
    // Prepare
    const env = { INVENTORY_TABLE_NAME: 'inventory', ...consumerSettings.toEnv(consumer) };
    // Act + Assess
    expect(readInventorySettings(env)).toEqual({ inventoryTableName: 'inventory', consumer });
  });

  it.each([
    [consumerSettings.toEnv(consumer), 'Missing required environment variable INVENTORY_TABLE_NAME'],
    [
      { INVENTORY_TABLE_NAME: '', ...consumerSettings.toEnv(consumer) },
      'Missing required environment variable INVENTORY_TABLE_NAME',
    ],
    [{ INVENTORY_TABLE_NAME: 'inventory' }, 'Missing required environment variable OUTBOX_CONSUMER_SETTINGS'],
  ])('fails fast, naming the variable: %j', (env, message) => {
    expect(() => readInventorySettings(env)).toThrow(message);
    expect(() => readInventorySettings(env)).toThrow(InvalidSettingsError);
  });
});
