import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { createServer, type Server as NetServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalEventBus } from '../../../src/local/event-bus';
import {
  closeServer,
  configuredPort,
  listen,
  PortInUseError,
  RequestBodyTooLargeError,
  readBody,
} from '../../../src/local/http';
import { PortInUseError as PortInUseErrorOfTheApi, startLocalHttpApi } from '../../../src/local/http-server';
import { claimPort } from '../../../src/local/ports';
import { startLocalSqs } from '../../../src/local/sqs';

const servers: NetServer[] = [];
const stops: Array<() => Promise<void>> = [];

afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
  await Promise.all(
    servers.splice(0).map((server) => new Promise((resolve) => server.close(() => resolve(undefined)))),
  );
});

/** A port held by another listener for the rest of the test. */
const busyPort = async (host?: string): Promise<number> => {
  const blocker = createServer();
  servers.push(blocker);
  await new Promise<void>((resolve) => blocker.listen(0, host, resolve));
  const address = blocker.address();
  if (typeof address !== 'object' || address === null) throw new Error('blocker has no port');
  return address.port;
};

/** An HTTP server answering with the size of the body `readBody` returned, or 413 when it refused it. */
const bodyEcho = async (maxBytes: number): Promise<string> => {
  const server = createHttpServer((request, response) => {
    readBody(request, maxBytes).then(
      (body) => response.writeHead(200).end(`${body.length}:${body.toString('utf8').slice(0, 8)}`),
      (error: unknown) =>
        response
          .writeHead(error instanceof RequestBodyTooLargeError ? 413 : 500)
          .end(error instanceof Error ? error.message : ''),
    );
  });
  servers.push(server);
  const port = await listen(server, 0, '127.0.0.1');
  return `http://127.0.0.1:${port}`;
};

const post = async (url: string, body: string, headers: Record<string, string> = {}) => {
  const response = await fetch(url, { method: 'POST', body, headers });
  return { status: response.status, headers: response.headers, text: await response.text() };
};

describe('listen', () => {
  it('resolves to the port the system picked for port 0', async () => {
    // Prepare
    const server = createServer();
    servers.push(server);

    // Act
    const port = await listen(server, 0, '127.0.0.1');

    // Assess
    expect(port).toBeGreaterThan(0);
    expect(server.address()).toMatchObject({ port, address: '127.0.0.1' });
  });

  it('rejects a busy port with PortInUseError naming the port', async () => {
    // Prepare
    const port = await busyPort('127.0.0.1');

    // Act
    const listening = listen(createServer(), port, '127.0.0.1');

    // Assess
    await expect(listening).rejects.toEqual(new PortInUseError(port));
    await expect(listening).rejects.toThrow(`Port ${port} is already in use`);
  });

  it('passes other listen errors through unchanged', async () => {
    // Act
    const listening = listen(createServer(), 0, '203.0.113.1');

    // Assess
    await expect(listening).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
  });
});

describe('closeServer', () => {
  it('closes an HTTP server at once, dropping a request still in progress', async () => {
    // Prepare
    const server: Server = createHttpServer(() => undefined);
    const port = await listen(server, 0, '127.0.0.1');
    let arrived: () => void = () => undefined;
    const requestArrived = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    server.once('request', () => arrived());
    const pending = new Promise<unknown>((resolve) =>
      httpRequest({ host: '127.0.0.1', port, method: 'POST' }, resolve)
        .on('error', resolve)
        .end('never answered'),
    );
    await requestArrived;

    // Act
    await closeServer(server);

    // Assess
    expect(server.listening).toBe(false);
    expect(await pending).toMatchObject({ code: 'ECONNRESET' });
  });

  it('rejects when the server is not running', async () => {
    await expect(closeServer(createServer())).rejects.toMatchObject({ code: 'ERR_SERVER_NOT_RUNNING' });
  });
});

describe('readBody', () => {
  it('returns a body of exactly maxBytes whole', async () => {
    // Prepare
    const url = await bodyEcho(1024);

    // Act
    const atLimit = await post(url, 'a'.repeat(1024));
    const empty = await post(url, '');

    // Assess
    expect([atLimit.status, atLimit.text]).toEqual([200, '1024:aaaaaaaa']);
    expect([empty.status, empty.text]).toEqual([200, '0:']);
  });

  it('refuses one byte more with RequestBodyTooLargeError, still letting the client read the answer', async () => {
    // Prepare
    const url = await bodyEcho(1024);

    // Act
    const overLimit = await post(url, 'a'.repeat(1025));
    const farOver = await post(url, 'a'.repeat(1024 * 1024));

    // Assess
    expect([overLimit.status, overLimit.text]).toEqual([413, 'The request body is larger than 1024 bytes']);
    expect(farOver.status).toBe(413);
  });
});

describe('configuredPort', () => {
  const variable = 'HTTP_TEST_PORT';
  afterEach(() => {
    delete process.env[variable];
  });

  it('takes the explicit port first, then the environment variable, then the fallback', () => {
    expect(configuredPort('Test', undefined, variable, 4000)).toBe(4000);
    process.env[variable] = '';
    expect(configuredPort('Test', undefined, variable, 4000)).toBe(4000);
    process.env[variable] = '4100';
    expect(configuredPort('Test', undefined, variable, 4000)).toBe(4100);
    expect(configuredPort('Test', 0, variable, 4000)).toBe(0);
  });

  it('refuses anything that is not a port number, naming the value', () => {
    process.env[variable] = 'http';
    expect(() => configuredPort('Test', undefined, variable, 4000)).toThrow(
      'Test port must be a port number, got "http"',
    );
    process.env[variable] = '65536';
    expect(() => configuredPort('Test', undefined, variable, 4000)).toThrow('got "65536"');
    expect(() => configuredPort('Test', -1, variable, 4000)).toThrow('got "-1"');
    expect(() => configuredPort('Test', 1.5, variable, 4000)).toThrow('got "1.5"');
  });
});

describe('every local endpoint reports a busy port as PortInUseError', () => {
  const starters: Record<string, (port: number) => Promise<unknown>> = {
    'HTTP API': (port) => startLocalHttpApi({ routes: [], handler: async () => ({ statusCode: 200 }), port }),
    EventBridge: (port) => startLocalEventBus({ port }),
    SQS: (port) => startLocalSqs({ port }),
  };

  it.each(Object.keys(starters))('%s', async (name) => {
    // Prepare
    const port = await busyPort('127.0.0.1');
    const start = starters[name];
    if (start === undefined) throw new Error(`no starter for ${name}`);

    // Act
    const started = start(port);

    // Assess
    await expect(started).rejects.toEqual(new PortInUseError(port));
    await expect(started).rejects.toBeInstanceOf(PortInUseError);
  });

  it('claimPort, probing every interface', async () => {
    // Prepare
    const port = await busyPort();

    // Act
    const claimed = claimPort(port);

    // Assess
    await expect(claimed).rejects.toEqual(new PortInUseError(port));
  });

  it('is the same class the HTTP API module exports', () => {
    expect(PortInUseErrorOfTheApi).toBe(PortInUseError);
  });
});

describe('every local endpoint answers an over-limit body as the service it stands in for', () => {
  it('HTTP API: 413 past 10 MiB; the function sees a body of exactly 10 MiB', async () => {
    // Prepare
    const sizes: number[] = [];
    const api = await startLocalHttpApi({
      routes: [{ method: 'POST', path: '/orders' }],
      handler: async (event) => {
        sizes.push(event.body?.length ?? 0);
        return { statusCode: 202 };
      },
      port: 0,
    });
    stops.push(() => api.close());
    const limit = 10 * 1024 * 1024;

    // Act
    const atLimit = await post(`${api.url}/orders`, 'x'.repeat(limit), { 'content-type': 'text/plain' });
    const overLimit = await post(`${api.url}/orders`, 'x'.repeat(limit + 1), {
      'content-type': 'text/plain',
    });

    // Assess
    expect(atLimit.status).toBe(202);
    expect([overLimit.status, JSON.parse(overLimit.text)]).toEqual([
      413,
      { message: 'Request Entity Too Large' },
    ]);
    expect(sizes).toEqual([limit]);
  });

  it('EventBridge: ValidationException past 2 MiB; a body of exactly 2 MiB is read and parsed', async () => {
    // Prepare
    const bus = await startLocalEventBus({ port: 0 });
    stops.push(() => bus.stop());
    const headers = {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'AWSEvents.PutEvents',
    };
    const limit = 2 * 1024 * 1024;

    // Act
    const atLimit = await post(bus.endpoint, ' '.repeat(limit), headers);
    const overLimit = await post(bus.endpoint, ' '.repeat(limit + 1), headers);

    // Assess
    expect(JSON.parse(atLimit.text).__type).toBe('SerializationException');
    expect(overLimit.status).toBe(400);
    expect(overLimit.headers.get('x-amzn-errortype')).toBe('ValidationException');
    expect(JSON.parse(overLimit.text)).toEqual({
      __type: 'ValidationException',
      message: 'Total size of the entries in the request is over the limit.',
    });
  });

  it('SQS: BatchRequestTooLong past 576 KiB; a body of exactly 576 KiB is read and parsed', async () => {
    // Prepare
    const sqs = await startLocalSqs({ port: 0 });
    stops.push(() => sqs.stop());
    const headers = {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'AmazonSQS.SendMessage',
    };
    const limit = 2 * 256 * 1024 + 64 * 1024;

    // Act
    const atLimit = await post(sqs.endpoint, '['.repeat(limit), headers);
    const overLimit = await post(sqs.endpoint, '['.repeat(limit + 1), headers);

    // Assess
    expect(JSON.parse(atLimit.text)).toEqual({
      __type: 'com.amazonaws.sqs#InvalidParameterValue',
      message: 'The request body is not valid JSON.',
    });
    expect([overLimit.status, JSON.parse(overLimit.text)]).toEqual([
      400,
      { __type: 'com.amazonaws.sqs#BatchRequestTooLong', message: 'The request is too large.' },
    ]);
  });
});
