import { afterEach, describe, expect, it, vi } from 'vitest';
import { logger, loggerFor } from '../../../lambdas/outbox/powertools';

describe('loggerFor', () => {
  afterEach(() => {
    logger.removeKeys(['orderId']);
    vi.restoreAllMocks();
  });

  it('logs under its own service name, without the keys another function appended to the shared logger', () => {
    // Prepare
    const relay = loggerFor('outbox-relay');
    relay.setLogLevel('INFO');
    logger.appendKeys({ orderId: 'from-the-api' });
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);

    // Act
    relay.info('Outbox batch relayed', { records: 1 });

    // Assess
    const line = JSON.parse(String(write.mock.calls[0]?.[0]));
    expect(line).toMatchObject({ service: 'outbox-relay', message: 'Outbox batch relayed', records: 1 });
    expect(line).not.toHaveProperty('orderId');
  });
});
