import { describe, expect, it } from 'vitest';
import { readOrdersSettings } from '../../../lambdas/orders/config';
import { ordersOutboxLayout } from '../../../lambdas/orders/table';
import { InvalidSettingsError, writerSettings } from '../../../packages/dynamodb-outbox/src/runtime/settings';

const outbox = { tableName: 'orders', layout: ordersOutboxLayout, deliveryTracking: true, retentionDays: 7 };

describe('readOrdersSettings', () => {
  it("reads the table and the outbox writer's settings from the construct's contract", () => {
    // Prepare
    const env = { TABLE_NAME: 'orders', ...writerSettings.toEnv(outbox) };
    // Act + Assess
    expect(readOrdersSettings(env)).toEqual({ tableName: 'orders', outbox });
  });

  it('keeps delivery tracking off and the retention as the construct wrote them', () => {
    // Prepare
    const env = {
      TABLE_NAME: 'orders',
      ...writerSettings.toEnv({ ...outbox, deliveryTracking: false, retentionDays: 3 }),
    };
    // Act + Assess
    expect(readOrdersSettings(env).outbox).toMatchObject({ deliveryTracking: false, retentionDays: 3 });
  });

  it.each([
    [{}, 'Invalid orders service configuration: TABLE_NAME is required'],
    [{ TABLE_NAME: '' }, 'Invalid orders service configuration: TABLE_NAME is required'],
    [{ TABLE_NAME: 'orders' }, 'Missing required environment variable OUTBOX_WRITER_SETTINGS'],
    [
      { TABLE_NAME: 'orders', OUTBOX_WRITER_SETTINGS: JSON.stringify({ ...outbox, retentionDays: 0 }) },
      'Invalid OUTBOX_WRITER_SETTINGS: retentionDays: retentionDays must be from 1 to 3650',
    ],
  ])('fails fast on %j, naming the variable', (env, message) => {
    expect(() => readOrdersSettings(env)).toThrow(message);
    expect(() => readOrdersSettings(env)).toThrow(InvalidSettingsError);
  });
});
