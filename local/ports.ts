import { createServer } from 'node:net';
import { PortInUseError } from './http-server';

/** Resolve `port` to a free port: 0 picks one, anything else must not be taken. */
export const claimPort = (port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(port) : error),
    );
    // No host: the wildcard address collides with a listener on any interface.
    probe.listen(port, () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('No port assigned')),
      );
    });
  });
