import { describe, expect, it } from 'vitest';
import { readOrdersConfig } from '../../../lambdas/orders/config';

describe('readOrdersConfig', () => {
  it('defaults to delivery tracking on and seven days of retention', () => {
    expect(readOrdersConfig({ TABLE_NAME: 'orders' })).toEqual({
      tableName: 'orders',
      deliveryTracking: true,
      retentionDays: 7,
    });
  });

  it('reads tracking off and a retention, treating blank values as unset', () => {
    expect(
      readOrdersConfig({
        TABLE_NAME: 'orders',
        OUTBOX_DELIVERY_TRACKING: 'false',
        OUTBOX_RETENTION_DAYS: '3',
      }),
    ).toMatchObject({ deliveryTracking: false, retentionDays: 3 });
    expect(readOrdersConfig({ TABLE_NAME: 'orders', OUTBOX_RETENTION_DAYS: '' }).retentionDays).toBe(7);
  });

  it.each([
    [{}, /TABLE_NAME is required/],
    [
      { TABLE_NAME: 'orders', OUTBOX_DELIVERY_TRACKING: 'yes' },
      /OUTBOX_DELIVERY_TRACKING must be true or false/,
    ],
    [{ TABLE_NAME: 'orders', OUTBOX_RETENTION_DAYS: '1.5' }, /OUTBOX_RETENTION_DAYS must be a whole number/],
    [{ TABLE_NAME: 'orders', OUTBOX_RETENTION_DAYS: '0' }, /between 1 and 3650/],
  ])('fails fast on %j', (env, message) => {
    expect(() => readOrdersConfig(env)).toThrow(message);
  });
});
