import { afterEach, describe, expect, it, vi } from 'vitest';
import { reconcilerDepsFromEnv, reconcilerSettingsFromEnv } from '../../../lambdas/reconciler/wiring';

describe('reconciler wiring', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('reads the settings the construct passes, with the construct defaults when unset or blank', () => {
    // Act
    const defaults = reconcilerSettingsFromEnv({ RECONCILER_THRESHOLD_SECONDS: '' });
    const set = reconcilerSettingsFromEnv({
      RECONCILER_THRESHOLD_SECONDS: '3600',
      RECONCILER_MAX_ITEMS_PER_RUN: '250',
      OUTBOX_RETENTION_DAYS: '30',
    });

    // Assess
    expect(defaults).toEqual({
      thresholdSeconds: 900,
      maxItemsPerRun: 5000,
      pageSize: 100,
      retentionDays: 7,
    });
    expect(set).toEqual({ thresholdSeconds: 3600, maxItemsPerRun: 250, pageSize: 100, retentionDays: 30 });
  });

  it('refuses a setting that is not a positive integer, naming it', () => {
    expect(() => reconcilerSettingsFromEnv({ RECONCILER_MAX_ITEMS_PER_RUN: '0' })).toThrow(
      /RECONCILER_MAX_ITEMS_PER_RUN must be a positive integer/,
    );
    expect(() => reconcilerSettingsFromEnv({ RECONCILER_THRESHOLD_SECONDS: '15m' })).toThrow(
      /RECONCILER_THRESHOLD_SECONDS must be an integer/,
    );
    expect(() => reconcilerSettingsFromEnv({ OUTBOX_RETENTION_DAYS: '-1' })).toThrow(/OUTBOX_RETENTION_DAYS/);
  });

  it('fails fast, naming the variable, when the function is not configured', () => {
    // Prepare
    for (const name of ['TABLE_NAME', 'EVENT_BUS_NAME', 'POISON_QUEUE_URL']) vi.stubEnv(name, undefined);

    // Act + Assess
    expect(() => reconcilerDepsFromEnv()).toThrow(/TABLE_NAME/);
    vi.stubEnv('TABLE_NAME', 'orders');
    expect(() => reconcilerDepsFromEnv()).toThrow(/EVENT_BUS_NAME/);
    vi.stubEnv('EVENT_BUS_NAME', 'orders-bus');
    expect(() => reconcilerDepsFromEnv()).toThrow(/POISON_QUEUE_URL/);
    vi.stubEnv('POISON_QUEUE_URL', 'https://sqs.us-east-1.amazonaws.com/123456789012/relay-poison');
    expect(reconcilerDepsFromEnv()).toMatchObject({
      tableName: 'orders',
      settings: { thresholdSeconds: 900 },
    });
  });
});
