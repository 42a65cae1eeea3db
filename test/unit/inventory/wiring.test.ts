import { describe, expect, it } from 'vitest';
import { readInventorySettings } from '../../../lambdas/inventory/wiring';
import { TIME_ORDERED_TABLE_LAYOUT } from '../../../packages/dynamodb-outbox/src/runtime/layout';
import {
  transactionalConsumerSettings as consumerSettings,
  InvalidSettingsError,
} from '../../../packages/dynamodb-outbox/src/runtime/settings';

const consumer = {
  inboxTtlSeconds: 194_400,
  outbox: {
    tableName: 'inventory-outbox',
    layout: TIME_ORDERED_TABLE_LAYOUT,
    deliveryTracking: true,
    retentionDays: 7,
  },
};

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
    [{ INVENTORY_TABLE_NAME: 'inventory' }, 'OUTBOX_TRANSACTIONAL_CONSUMER_SETTINGS'],
  ])('fails fast, naming the variable: %j', (env, message) => {
    expect(() => readInventorySettings(env)).toThrow(message);
    expect(() => readInventorySettings(env)).toThrow(InvalidSettingsError);
  });
});
