import { createServer } from 'node:net';
import { closeServer, listen } from './http.js';

/** Resolve `port` to a free port: 0 picks one, anything else must not be taken. */
export const claimPort = async (port: number): Promise<number> => {
  const probe = createServer();
  probe.unref();
  // No host: the wildcard address collides with a listener on any interface.
  const bound = await listen(probe, port);
  await closeServer(probe);
  return bound;
};
