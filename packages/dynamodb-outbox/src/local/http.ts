import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';

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

/**
 * The first byte HTTP does not allow in a header value: a control byte other than HTAB (a value is
 * visible characters, SP, HTAB and obs-text: RFC 9110, section 5.5).
 */
const controlByteIn = (value: string): number | undefined =>
  [...value].map((c) => c.charCodeAt(0)).find((code) => (code < 0x20 && code !== 0x09) || code === 0x7f);

/** Why the parser refused a request, naming the header when a control byte in one was the cause. */
const describeUnparsable = (rawPacket: Buffer | undefined): string => {
  for (const line of rawPacket?.toString('latin1').split('\r\n').slice(1) ?? []) {
    const colon = line.indexOf(':');
    const bad = colon > 0 ? controlByteIn(line.slice(colon + 1)) : undefined;
    if (bad !== undefined)
      return (
        `the ${line.slice(0, colon).trim().toLowerCase()} header contains the control character ` +
        `0x${bad.toString(16).toUpperCase().padStart(2, '0')}, which HTTP does not allow in a header`
      );
  }
  return 'the request is not valid HTTP/1.1';
};

/**
 * Answer a request Node's HTTP parser refuses (a control byte in a header, headers too large, a
 * malformed request line) with `body(message)` as JSON, instead of Node's bare `400 Bad Request`
 * without a body, so that every answer has the endpoint's error shape. The statuses are Node's own.
 */
export const answerUnparsableRequests = (server: Server, body: (message: string) => unknown): void => {
  server.on('clientError', (error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, reason] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large']
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout']
          : [400, 'Bad Request'];
    const detail = status === 400 ? `${reason}: ${describeUnparsable(error.rawPacket)}` : reason;
    const text = JSON.stringify(body(detail));
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  });
};

/**
 * Stop accepting connections and resolve once the server is closed. Requests in progress get
 * `drainMs` to finish, their answers reaching the clients; whatever is still open then is dropped
 * (at once with the default 0). Idle keep-alive connections close at once either way.
 */
export const closeServer = (server: Server, drainMs = 0): Promise<void> =>
  new Promise((resolve, reject) => {
    // close() drops idle connections itself, but would wait for every request still in progress.
    const dropAll = () => {
      if ('closeAllConnections' in server && typeof server.closeAllConnections === 'function')
        server.closeAllConnections();
    };
    const deadline = drainMs > 0 ? setTimeout(dropAll, drainMs) : undefined;
    server.close((error) => {
      clearTimeout(deadline);
      if (error) reject(error);
      else resolve();
    });
    if (deadline === undefined) dropAll();
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
