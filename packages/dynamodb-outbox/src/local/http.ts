import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:net';

/*
 * What the local endpoints (HTTP API, EventBridge, SQS, Lambda) and the port probe share: binding a
 * port, closing, reading a bounded request body, answering JSON and reading a port setting. Each endpoint maps the
 * errors here to the answer the service it stands in for would give.
 */

/** A port that another process already listens on. */
export class PortInUseError extends Error {
  constructor(readonly port: number) {
    super(`Port ${port} is already in use`);
    this.name = 'PortInUseError';
  }
}

/** A request body over the endpoint's limit; it was drained, not kept. */
export class RequestBodyTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`The request body is larger than ${maxBytes} bytes`);
    this.name = 'RequestBodyTooLargeError';
  }
}

/**
 * Listen on `port` (0 picks a free one) at `host` (@default every interface) and resolve to the
 * bound port. A busy port rejects with PortInUseError.
 */
export const listen = (server: Server, port: number, host?: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException): void =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(port) : error);
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      const address = server.address();
      if (typeof address === 'object' && address) resolve(address.port);
      else reject(new Error('No port assigned'));
    });
  });

/** Stop accepting connections, drop the open ones, and resolve once the server is closed. */
export const closeServer = (server: Server): Promise<void> =>
  new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // close() drops idle connections itself, but would wait for every request still in progress.
    if ('closeAllConnections' in server && typeof server.closeAllConnections === 'function')
      server.closeAllConnections();
  });

/**
 * The whole request body. Past `maxBytes` the rest is still read, so that the client gets the
 * answer instead of a reset connection, but not kept, and the body is refused with
 * RequestBodyTooLargeError.
 */
export const readBody = async (request: IncomingMessage, maxBytes: number): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= maxBytes) chunks.push(chunk);
  }
  if (size > maxBytes) throw new RequestBodyTooLargeError(maxBytes);
  return Buffer.concat(chunks, size);
};

/**
 * The port an endpoint listens on: `explicit` when given, else the environment variable
 * `variable` when set, else `fallback`. 0 picks a free port.
 */
export const configuredPort = (
  label: string,
  explicit: number | undefined,
  variable: string,
  fallback: number,
): number => {
  const fromEnv = process.env[variable];
  const port = explicit ?? (fromEnv ? Number(fromEnv) : fallback);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`${label} port must be a port number, got "${explicit ?? fromEnv}"`);
  return port;
};

/**
 * Answer `body` as JSON with `status`, a request id as AWS services send one, and `headers` over
 * the defaults (an AWS JSON protocol's own Content-Type, an error type). An answer already under
 * way cannot change: the connection is dropped instead.
 */
export const sendJson = (
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void => {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'x-amzn-RequestId': randomUUID(),
    ...headers,
  });
  response.end(text);
};
