import { connect, createServer } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import {
  fromHttpApiResult,
  type HttpApiHandler,
  type LocalHttpApi,
  matchRoute,
  PortInUseError,
  type ResponseInfo,
  startLocalHttpApi,
} from '../../../src/local/http-server';

const routes = [
  { method: 'POST', path: '/orders' },
  { method: 'GET', path: '/orders/{orderId}' },
  { method: 'POST', path: '/orders/{orderId}/cancel' },
];

describe('matchRoute', () => {
  it('matches exact segments and captures {parameters}, decoded', () => {
    expect(matchRoute(routes, 'POST', '/orders')).toEqual({ routeKey: 'POST /orders' });
    expect(matchRoute(routes, 'get', '/orders/01ABC')).toEqual({
      routeKey: 'GET /orders/{orderId}',
      pathParameters: { orderId: '01ABC' },
    });
    expect(matchRoute(routes, 'POST', '/orders/a%23b/cancel')?.pathParameters).toEqual({ orderId: 'a#b' });
  });

  it('does not match another method, an extra segment or an empty parameter', () => {
    expect(matchRoute(routes, 'DELETE', '/orders/1')).toBeUndefined();
    expect(matchRoute(routes, 'GET', '/orders/1/extra')).toBeUndefined();
    expect(matchRoute(routes, 'GET', '/orders/')).toBeUndefined();
  });
});

describe('fromHttpApiResult', () => {
  it('serializes a result without statusCode as a 200 JSON response, as HTTP API does', () => {
    const out = fromHttpApiResult({ hello: 'world' } as never);
    expect(out.statusCode).toBe(200);
    expect(out.body.toString()).toBe('{"hello":"world"}');
  });

  it('decodes a base64 body and keeps cookies apart', () => {
    const out = fromHttpApiResult({
      statusCode: 202,
      headers: { 'X-Thing': 'a' },
      cookies: ['a=1'],
      body: Buffer.from('raw').toString('base64'),
      isBase64Encoded: true,
    });
    expect(out).toEqual({
      statusCode: 202,
      headers: { 'x-thing': 'a' },
      cookies: ['a=1'],
      body: Buffer.from('raw'),
    });
  });
});

describe('startLocalHttpApi', () => {
  let api: LocalHttpApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  const serve = async (handler: HttpApiHandler, onResponse?: (info: ResponseInfo) => void) => {
    api = await startLocalHttpApi({ routes, handler, port: 0, ...(onResponse ? { onResponse } : {}) });
    return api;
  };

  it('turns a request into a payload 2.0 event and the result into the response', async () => {
    // Prepare
    let received: APIGatewayProxyEventV2 | undefined;
    const responses: ResponseInfo[] = [];
    const { url } = await serve(
      async (event) => {
        received = event;
        return { statusCode: 201, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
      },
      (info) => responses.push(info),
    );

    // Act
    const response = await fetch(`${url}/orders/01ABC/cancel?x=1&x=2&y=3`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Custom': 'v', cookie: 'a=1; b=2' },
      body: '{"reason":"r"}',
    });

    // Assess
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ ok: true });
    expect(received).toMatchObject({
      version: '2.0',
      routeKey: 'POST /orders/{orderId}/cancel',
      rawPath: '/orders/01ABC/cancel',
      rawQueryString: 'x=1&x=2&y=3',
      queryStringParameters: { x: '1,2', y: '3' },
      pathParameters: { orderId: '01ABC' },
      cookies: ['a=1', 'b=2'],
      headers: { 'content-type': 'application/json', 'x-custom': 'v' },
      body: '{"reason":"r"}',
      isBase64Encoded: false,
      requestContext: {
        http: { method: 'POST', path: '/orders/01ABC/cancel' },
        routeKey: 'POST /orders/{orderId}/cancel',
        stage: '$default',
      },
    });
    expect(received?.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(responses).toEqual([
      expect.objectContaining({ routeKey: 'POST /orders/{orderId}/cancel', statusCode: 201 }),
    ]);
  });

  it('base64-encodes a body whose content type is not text', async () => {
    let received: APIGatewayProxyEventV2 | undefined;
    const { url } = await serve(async (event) => {
      received = event;
      return { statusCode: 204 };
    });
    await fetch(`${url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: new Uint8Array([0, 255, 1]),
    });
    expect(received?.isBase64Encoded).toBe(true);
    expect(Buffer.from(received?.body ?? '', 'base64')).toEqual(Buffer.from([0, 255, 1]));
  });

  it('base64-encodes a text body whose bytes are not UTF-8, so the function sees them as sent', async () => {
    // Prepare
    let received: APIGatewayProxyEventV2 | undefined;
    const { url } = await serve(async (event) => {
      received = event;
      return { statusCode: 204 };
    });
    const sent = Buffer.concat([
      Buffer.from('{"reason":"a'),
      Buffer.from([0xff, 0xc0, 0xaf]),
      Buffer.from('"}'),
    ]);

    // Act
    await fetch(`${url}/orders/01ABC/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: sent,
    });

    // Assess
    expect(received?.isBase64Encoded).toBe(true);
    expect(Buffer.from(received?.body ?? '', 'base64')).toEqual(sent);
  });

  it('passes a UTF-8 text body as a string, multi-byte characters intact', async () => {
    let received: APIGatewayProxyEventV2 | undefined;
    const { url } = await serve(async (event) => {
      received = event;
      return { statusCode: 204 };
    });
    await fetch(`${url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: '{"reason":"commandé 🙁"}',
    });
    expect(received).toMatchObject({ isBase64Encoded: false, body: '{"reason":"commandé 🙁"}' });
  });

  it('answers like the gateway for an unknown route and a failing function', async () => {
    const { url } = await serve(async () => {
      throw new Error('boom');
    });
    const unknown = await fetch(`${url}/nowhere`);
    const failed = await fetch(`${url}/orders/1`);
    expect([unknown.status, await unknown.json()]).toEqual([404, { message: 'Not Found' }]);
    expect([failed.status, await failed.json()]).toEqual([500, { message: 'Internal Server Error' }]);
  });

  it('rejects bodies over HTTP API’s 10 MiB limit before the function sees them', async () => {
    let calls = 0;
    const { url } = await serve(async () => {
      calls++;
      return { statusCode: 200 };
    });
    const response = await fetch(`${url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(10 * 1024 * 1024 + 1),
    });
    expect(response.status).toBe(413);
    expect(calls).toBe(0);
  });

  it.each([
    ['x-correlation-id', 'abc\x01def', '0x01'],
    ['Idempotency-Key', 'checkout\x7f2f9c1e', '0x7F'],
  ])(
    'answers a control byte in %s with a JSON 400 naming the header, before the function',
    async (header, value, byte) => {
      // Prepare: fetch refuses to send such a header, so the request is written on a socket.
      let calls = 0;
      const { port } = await serve(async () => {
        calls++;
        return { statusCode: 201 };
      });
      const request =
        `POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n${header}: ${value}\r\n` +
        'content-length: 2\r\n\r\n{}';

      // Act
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.end(Buffer.from(request, 'latin1')));
        let answer = '';
        socket.setEncoding('latin1').on('data', (chunk: string) => (answer += chunk));
        socket.on('end', () => resolve(answer)).on('error', reject);
      });

      // Assess
      const [head = '', body = ''] = raw.split('\r\n\r\n');
      expect(head.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
      expect(head.toLowerCase()).toContain('content-type: application/json');
      expect(JSON.parse(body)).toEqual({
        message: `Bad Request: the ${header.toLowerCase()} header contains the control character ${byte}, which HTTP does not allow in a header`,
      });
      expect(calls).toBe(0);
    },
  );

  it('reports a busy port as PortInUseError naming the port', async () => {
    // Prepare
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;

    // Act
    const started = startLocalHttpApi({ routes, handler: async () => ({ statusCode: 200 }), port });

    // Assess
    await expect(started).rejects.toEqual(new PortInUseError(port));
    await expect(started).rejects.toThrow(`Port ${port} is already in use`);
    await new Promise((resolve) => blocker.close(resolve));
  });
});
