import { createServer, type Server } from 'node:net';
import { DynamoDBDocumentClient, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderIdForKey } from '../../lambdas/orders/application/idempotency';
import { PortInUseError } from '../../packages/dynamodb-outbox/src/local/http-server';
import { type LocalRuntime, startLocalRuntime } from '../../packages/dynamodb-outbox/src/local/runtime';
import { eventEnvelopeSchema } from '../../packages/dynamodb-outbox/src/runtime/envelope';
import { orderOutboxKey } from '../../packages/dynamodb-outbox/test/support/outbox-items';
import body from '../unit/orders/fixtures/place-order-body.json';

describe('write path against DynamoDB Local', () => {
  let runtime: LocalRuntime;
  let doc: DynamoDBDocumentClient;

  beforeAll(async () => {
    // Only the write path: a running relay would mark items published while we inspect them.
    runtime = await startLocalRuntime({
      apiPort: 0,
      dynamoDbPort: 0,
      streams: false,
    });
    doc = DynamoDBDocumentClient.from(runtime.dynamoDb.client);
  });
  afterAll(async () => {
    await runtime?.stop();
  });

  const request = async (
    method: string,
    path: string,
    payload?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const response = await fetch(`${runtime.apiUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(payload === undefined
        ? {}
        : {
            body:
              typeof payload === 'string' || payload instanceof Uint8Array
                ? payload
                : JSON.stringify(payload),
          }),
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  };
  const placeOrder = (payload: unknown = body, headers: Record<string, string> = {}) =>
    request('POST', '/orders', payload, headers);

  const partition = async (orderId: string) => {
    const { Items = [] } = await doc.send(
      new QueryCommand({
        TableName: runtime.tableName('Orders/Table'),
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': `ORDER#${orderId}` },
        ConsistentRead: true,
      }),
    );
    return { order: Items.filter((i) => i.SK === 'ORDER'), outbox: Items.filter((i) => i.SK !== 'ORDER') };
  };
  const tableSize = async () =>
    (
      await doc.send(
        new ScanCommand({
          TableName: runtime.tableName('Orders/Table'),
          Select: 'COUNT',
          ConsistentRead: true,
        }),
      )
    ).Count;

  it('a POST creates exactly the order and one OrderPlaced outbox item; GET returns the order', async () => {
    // Act
    const response = await placeOrder();

    // Assess
    expect(response.status).toBe(201);
    const order = JSON.parse(response.text) as { orderId: string };
    expect(response.headers.get('location')).toBe(`/orders/${order.orderId}`);
    const { order: orders, outbox } = await partition(order.orderId);
    expect(orders).toHaveLength(1);
    expect(outbox).toHaveLength(1);
    const event = outbox[0] ?? {};
    expect(eventEnvelopeSchema.safeParse(event).success).toBe(true);
    expect(event).toMatchObject({
      ...orderOutboxKey(order.orderId, 1),
      eventType: 'OrderPlaced',
      aggregateId: order.orderId,
      sequence: 1,
      payload: { orderId: order.orderId, total: 2699, currency: 'EUR' },
    });
    // Delivery tracking: the time index entry the reconciler lists it by, and its TTL from the write.
    expect(event.outboxMinute).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d#\d$/);
    expect(event.expiresAt).toBeGreaterThan(Date.now() / 1000 + 6 * 86_400);
    const read = await request('GET', `/orders/${order.orderId}`);
    expect([read.status, read.text]).toEqual([200, response.text]);
  });

  it('a cancel adds exactly one more outbox item, with sequence 2; a second cancel is a 409 with no event', async () => {
    // Prepare
    const { orderId } = JSON.parse((await placeOrder()).text) as { orderId: string };

    // Act
    const cancelled = await request('POST', `/orders/${orderId}/cancel`, { reason: 'changed my mind' });
    const again = await request('POST', `/orders/${orderId}/cancel`);

    // Assess
    expect(cancelled.status).toBe(200);
    expect(JSON.parse(cancelled.text)).toMatchObject({ status: 'CANCELLED', version: 2 });
    expect(again.status).toBe(409);
    const { order, outbox } = await partition(orderId);
    expect(order[0]).toMatchObject({ status: 'CANCELLED', version: 2 });
    expect(outbox.map((i) => [i.sequence, i.eventType])).toEqual([
      [1, 'OrderPlaced'],
      [2, 'OrderCancelled'],
    ]);
  });

  it('two concurrent cancels: one wins, the other gets 409, and only one OrderCancelled exists', async () => {
    // Prepare
    const { orderId } = JSON.parse((await placeOrder()).text) as { orderId: string };

    // Act
    const statuses = await Promise.all(
      Array.from({ length: 2 }, () => request('POST', `/orders/${orderId}/cancel`).then((r) => r.status)),
    );

    // Assess
    expect(statuses.sort()).toEqual([200, 409]);
    const { outbox } = await partition(orderId);
    expect(outbox.filter((i) => i.eventType === 'OrderCancelled')).toHaveLength(1);
  });

  it('invalid requests write nothing and the service keeps serving', async () => {
    // Prepare
    const before = await tableSize();

    // Act
    const responses = await Promise.all([
      placeOrder({ ...body, currency: 'EURO' }),
      placeOrder('{not json'),
      placeOrder(body, { 'content-type': 'text/plain' }),
      placeOrder(`${JSON.stringify(body)}${' '.repeat(64 * 1024)}`),
      placeOrder(body, { 'idempotency-key': 'not a valid key' }),
      request('GET', '/orders/ORDER%23x'),
    ]);

    // Assess
    expect(responses.map((r) => r.status)).toEqual([400, 400, 415, 413, 400, 400]);
    for (const r of responses) expect(JSON.parse(r.text)).toHaveProperty('error.code');
    expect(await tableSize()).toBe(before);
    expect((await placeOrder()).status).toBe(201);
  });

  it('bodies that are not UTF-8 and strings with control characters or lone surrogates are refused, and nothing is stored', async () => {
    // Prepare
    const { orderId } = JSON.parse((await placeOrder()).text) as { orderId: string };
    const before = await tableSize();
    const notUtf8 = (prefix: string, suffix: string) =>
      Buffer.concat([Buffer.from(prefix), Buffer.from([0xff, 0xfe]), Buffer.from(suffix)]);

    // Act
    const responses = await Promise.all([
      placeOrder(notUtf8('{"customerId":"customer', '42","currency":"EUR","lines":[]}')),
      request('POST', `/orders/${orderId}/cancel`, notUtf8('{"reason":"changed ', 'my mind"}')),
      request('POST', `/orders/${orderId}/cancel`, { reason: 'line 1\r\nline 2' }),
      request('POST', `/orders/${orderId}/cancel`, '{"reason":"\\ud83d alone"}'),
      placeOrder({ ...body, customerId: 'customer\u008542' }),
    ]);

    // Assess
    expect(responses.map((r) => [r.status, JSON.parse(r.text).error])).toEqual([
      [400, { code: 'INVALID_JSON', message: 'Request body must be valid UTF-8 JSON' }],
      [400, { code: 'INVALID_JSON', message: 'Request body must be valid UTF-8 JSON' }],
      [
        400,
        {
          code: 'VALIDATION_ERROR',
          message: 'reason must not contain control characters (U+000D)',
          field: 'reason',
        },
      ],
      [
        400,
        {
          code: 'VALIDATION_ERROR',
          message: 'reason must not contain an unpaired surrogate (U+D83D)',
          field: 'reason',
        },
      ],
      [
        400,
        {
          code: 'VALIDATION_ERROR',
          message: 'customerId must not contain control characters (U+0085)',
          field: 'customerId',
        },
      ],
    ]);
    expect(await tableSize()).toBe(before);
    expect((await partition(orderId)).order[0]).toMatchObject({ status: 'PLACED', version: 1 });
  });

  it('a reason in any script is stored and published exactly as sent', async () => {
    // Prepare
    const { orderId } = JSON.parse((await placeOrder()).text) as { orderId: string };
    const reason = 'הוזמן פעמיים\u200f · commandé deux fois 🙁';

    // Act
    const cancelled = await request('POST', `/orders/${orderId}/cancel`, { reason });

    // Assess
    expect(cancelled.status).toBe(200);
    const { order, outbox } = await partition(orderId);
    expect(order[0]?.cancelReason).toBe(reason);
    expect(outbox[1]?.payload).toMatchObject({ reason });
  });

  it('a transaction DynamoDB cancels (failed outbox condition) writes neither item', async () => {
    // Prepare: an item already sits where this order's first event would go.
    const key = 'collide-with-outbox';
    const orderId = orderIdForKey('anonymous', key);
    await doc.send(
      new PutCommand({
        TableName: runtime.tableName('Orders/Table'),
        Item: { ...orderOutboxKey(orderId, 1), marker: 'x' },
      }),
    );

    // Act
    const response = await placeOrder(body, { 'idempotency-key': key });

    // Assess
    expect(response.status).toBe(500);
    expect(JSON.parse(response.text)).toEqual({
      error: { code: 'INTERNAL_ERROR', message: 'Internal server error' },
    });
    const { order, outbox } = await partition(orderId);
    expect(order).toHaveLength(0);
    expect(outbox).toEqual([expect.objectContaining({ marker: 'x' })]);
  });

  it('a replay with the same key returns the original response and leaves one order and one outbox item', async () => {
    // Prepare
    const headers = { 'idempotency-key': 'replay-1' };
    const first = await placeOrder(body, headers);

    // Act
    const replay = await placeOrder(body, headers);
    const conflict = await placeOrder({ ...body, customerId: 'someone-else' }, headers);

    // Assess
    expect(first.status).toBe(201);
    expect([replay.status, replay.text]).toEqual([201, first.text]);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(conflict.status).toBe(422);
    const { order, outbox } = await partition(JSON.parse(first.text).orderId);
    expect(order).toHaveLength(1);
    expect(outbox).toHaveLength(1);
  });

  it('concurrent requests with one key create one order; each gets the original answer or a retryable 409', async () => {
    // Prepare
    const headers = { 'idempotency-key': 'concurrent-1' };

    // Act
    const responses = await Promise.all(Array.from({ length: 5 }, () => placeOrder(body, headers)));

    // Assess
    const created = responses.filter((r) => r.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(responses.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    expect(new Set(created.map((r) => r.text)).size).toBe(1);
    const { order, outbox } = await partition(orderIdForKey('anonymous', 'concurrent-1'));
    expect(order).toHaveLength(1);
    expect(outbox).toHaveLength(1);
  });
});

describe('local runtime start-up', () => {
  const listen = async (): Promise<{ server: Server; port: number }> => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, resolve));
    const address = server.address();
    return { server, port: typeof address === 'object' && address ? address.port : 0 };
  };

  it.each(['apiPort', 'dynamoDbPort'] as const)(
    'names the busy %s before starting anything',
    async (option) => {
      // Prepare
      const { server, port } = await listen();

      // Act
      const started = startLocalRuntime({ apiPort: 0, dynamoDbPort: 0, [option]: port });

      // Assess
      await expect(started).rejects.toEqual(new PortInUseError(port));
      await new Promise((resolve) => server.close(resolve));
    },
  );
});
