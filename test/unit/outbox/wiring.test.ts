import { afterEach, describe, expect, it, vi } from 'vitest';

const RELAY_ENV = ['EVENT_BUS_NAME', 'POISON_QUEUE_URL', 'TABLE_NAME', 'OUTBOX_DELIVERY_TRACKING'] as const;

describe('relay wiring', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  const withoutRelayEnvironment = () => {
    for (const name of RELAY_ENV) vi.stubEnv(name, undefined);
  };

  it('imports the use case and the wiring without any environment: no side effect on import', async () => {
    // Prepare
    withoutRelayEnvironment();

    // Act
    const relay = await import('../../../lambdas/outbox/relay');
    const wiring = await import('../../../lambdas/outbox/wiring');

    // Assess
    expect(typeof relay.createRelayHandler).toBe('function');
    expect(typeof wiring.relayDepsFromEnv).toBe('function');
  });

  it('fails fast, naming the variable, when the function is not configured', async () => {
    // Prepare
    withoutRelayEnvironment();
    const { relayDepsFromEnv } = await import('../../../lambdas/outbox/wiring');

    // Act + Assess
    expect(() => relayDepsFromEnv()).toThrow(/EVENT_BUS_NAME/);
    vi.stubEnv('EVENT_BUS_NAME', 'orders-bus');
    expect(() => relayDepsFromEnv()).toThrow(/POISON_QUEUE_URL/);
    vi.stubEnv('POISON_QUEUE_URL', 'https://sqs.us-east-1.amazonaws.com/123456789012/relay-poison');
    expect(() => relayDepsFromEnv()).toThrow(/TABLE_NAME/);
  });

  it('needs no table with delivery tracking off, and takes the retention with it on', async () => {
    // Prepare
    withoutRelayEnvironment();
    vi.stubEnv('EVENT_BUS_NAME', 'orders-bus');
    vi.stubEnv('POISON_QUEUE_URL', 'https://sqs.us-east-1.amazonaws.com/123456789012/relay-poison');
    const { relayDepsFromEnv } = await import('../../../lambdas/outbox/wiring');

    // Act
    vi.stubEnv('OUTBOX_DELIVERY_TRACKING', 'false');
    const off = relayDepsFromEnv();
    vi.stubEnv('OUTBOX_DELIVERY_TRACKING', 'true');
    vi.stubEnv('TABLE_NAME', 'orders');
    vi.stubEnv('OUTBOX_RETENTION_DAYS', '3');
    const on = relayDepsFromEnv();

    // Assess
    expect(off.tracking).toEqual({ enabled: false });
    expect(on.tracking).toMatchObject({ enabled: true, tableName: 'orders', retentionDays: 3 });
  });
});
