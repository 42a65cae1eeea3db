import { Buffer } from 'node:buffer';
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_DISTINCT_SKUS } from '../../../../lambdas/inventory/limits';
import { orderIdForKey } from '../../../../lambdas/orders/application/idempotency';
import { OrdersMetric } from '../../../../lambdas/orders/events';
import { ordersOutboxLayout } from '../../../../lambdas/orders/table';
import { buildOrdersHandler } from '../../../../lambdas/orders/wiring';
import { metrics } from '../../../../packages/dynamodb-outbox/src/runtime/powertools';
import { lambdaContext } from '../../../../packages/dynamodb-outbox/test/support/unit';
import body from '../fixtures/place-order-body.json';
import { fixedClock, httpEvent, jsonHeaders, sequentialIds } from '../support';

const doc = mockClient(DynamoDBDocumentClient);
const NOW = '2026-11-22T10:00:00.000Z';
const ORDER_ID = '01JD0000000000000000000001';
const EVENT_ID = '01JD0000000000000000000002';

const handlerWith = (deliveryTracking = true) =>
  buildOrdersHandler({
    settings: {
      tableName: 'orders',
      outbox: { tableName: 'orders', layout: ordersOutboxLayout, deliveryTracking, retentionDays: 7 },
    },
    clients: { dynamoDb: new DynamoDBClient({}) },
    clock: fixedClock(NOW),
    ids: sequentialIds(),
  });

const invoke = async (event: APIGatewayProxyEventV2) => {
  const response = await handlerWith()(event, lambdaContext);
  return { ...response, json: JSON.parse(response.body ?? 'null') as Record<string, unknown> };
};

const post = (payload: unknown, headers: Record<string, string> = {}) =>
  httpEvent('POST /orders', {
    body: typeof payload === 'string' ? payload : JSON.stringify(payload),
    headers: { ...jsonHeaders, ...headers },
  });

const canceled = (codes: string[], item?: Record<string, unknown>) =>
  new TransactionCanceledException({
    message: 'Transaction cancelled, please refer cancellation reasons for specific reasons',
    $metadata: {},
    CancellationReasons: codes.map((Code, i) => ({
      Code,
      ...(i === 0 && item ? { Item: marshall(item) } : {}),
    })),
  });

const transactItems = (call = 0) =>
  doc.commandCalls(TransactWriteCommand)[call]?.args[0].input.TransactItems ?? [];

/** JSON with every character outside printable ASCII escaped, so it arrives in the parsed value, not in the body's bytes. */
const escapedJson = (payload: unknown): string =>
  JSON.stringify(payload).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

/** One of each kind of character every string field refuses. */
const FORBIDDEN = [
  ['NUL', '\u0000', 'must not contain control characters (U+0000)'],
  ['a line feed', '\n', 'must not contain control characters (U+000A)'],
  ['DEL', '\u007f', 'must not contain control characters (U+007F)'],
  ['the C1 control NEL', '\u0085', 'must not contain control characters (U+0085)'],
  ['a lone surrogate', '\ud800', 'must not contain an unpaired surrogate (U+D800)'],
  ['U+FFFD', '\ufffd', 'must not contain U+FFFD, the mark of bytes that were not UTF-8'],
] as const;

describe('orders API handler', () => {
  const addMetric = vi.spyOn(metrics, 'addMetric');

  beforeEach(() => {
    doc.reset();
    addMetric.mockClear();
    doc.on(TransactWriteCommand).resolves({});
  });
  afterEach(() => {
    delete process.env._X_AMZN_TRACE_ID;
  });

  describe('POST /orders', () => {
    it('answers 201 with the order and its Location after exactly one TransactWriteItems', async () => {
      // Act
      const response = await invoke(post(body, { 'x-correlation-id': 'corr-123' }));

      // Assess
      expect(response.statusCode).toBe(201);
      expect(response.headers).toMatchObject({
        location: `/orders/${ORDER_ID}`,
        'content-type': 'application/json',
        'x-correlation-id': 'corr-123',
      });
      expect(response.json).toEqual({
        orderId: ORDER_ID,
        customerId: 'customer-42',
        currency: 'EUR',
        lines: body.lines,
        total: 2699,
        status: 'PLACED',
        version: 1,
        createdAt: NOW,
        updatedAt: NOW,
      });
      expect(doc.calls()).toHaveLength(1);
      const [orderPut, outboxPut] = transactItems();
      expect(orderPut?.Put?.ConditionExpression).toBe('attribute_not_exists(PK)');
      expect(outboxPut?.Put?.Item).toMatchObject({
        PK: `ORDER#${ORDER_ID}`,
        SK: 'OUTBOX#0000000001',
        eventId: EVENT_ID,
        eventType: 'OrderPlaced',
        sequence: 1,
        correlationId: 'corr-123',
      });
      expect(addMetric).toHaveBeenCalledWith(OrdersMetric.OrdersPlaced, 'Count', 1);
    });

    it('stores the invocation X-Ray trace header on the outbox item', async () => {
      // Prepare
      const trace = 'Root=1-6740c8a0-1234567890abcdef01234567;Parent=0123456789abcdef;Sampled=1';
      process.env._X_AMZN_TRACE_ID = trace;

      // Act
      await invoke(post(body));

      // Assess
      expect(transactItems()[1]?.Put?.Item?.traceHeader).toBe(trace);
    });

    it.each([
      ['none', undefined],
      ['an unsafe one', 'has spaces <script>'],
      ['one with a C1 control character', 'corr\u009b31m'],
    ])('uses the request id as correlation id when the caller sends %s', async (_case, supplied) => {
      const response = await invoke(
        post(body, supplied === undefined ? {} : { 'x-correlation-id': supplied }),
      );
      expect(response.statusCode).toBe(201);
      expect(response.headers?.['x-correlation-id']).toBe('request-1');
      expect(transactItems()[1]?.Put?.Item?.correlationId).toBe('request-1');
    });

    const line = body.lines[0];
    it.each([
      ['customerId missing', { currency: 'EUR', lines: body.lines }, 'customerId'],
      ['customerId empty', { ...body, customerId: '' }, 'customerId'],
      ['customerId with a key separator', { ...body, customerId: 'a#ORDER' }, 'customerId'],
      ['customerId too long', { ...body, customerId: 'c'.repeat(129) }, 'customerId'],
      ['currency lower case', { ...body, currency: 'eur' }, 'currency'],
      ['currency not ISO 4217', { ...body, currency: 'XYZ' }, 'currency'],
      ['currency a number', { ...body, currency: 978 }, 'currency'],
      ['no lines', { ...body, lines: [] }, 'lines'],
      ['101 lines', { ...body, lines: Array.from({ length: 101 }, () => line) }, 'lines'],
      ['lines not an array', { ...body, lines: line }, 'lines'],
      ['sku missing', { ...body, lines: [{ quantity: 1, unitPrice: 1 }] }, 'lines[0].sku'],
      ['quantity 0', { ...body, lines: [line, { ...line, quantity: 0 }] }, 'lines[1].quantity'],
      ['quantity 1001', { ...body, lines: [{ ...line, quantity: 1001 }] }, 'lines[0].quantity'],
      ['quantity fractional', { ...body, lines: [{ ...line, quantity: 1.5 }] }, 'lines[0].quantity'],
      ['quantity a string', { ...body, lines: [{ ...line, quantity: '2' }] }, 'lines[0].quantity'],
      ['unitPrice negative', { ...body, lines: [{ ...line, unitPrice: -1 }] }, 'lines[0].unitPrice'],
      ['unitPrice fractional', { ...body, lines: [{ ...line, unitPrice: 12.5 }] }, 'lines[0].unitPrice'],
      ['an unknown field', { ...body, coupon: 'FREE' }, 'coupon'],
      ['an unknown line field', { ...body, lines: [{ ...line, colour: 'red' }] }, 'lines[0].colour'],
    ])('answers 400 naming the field for %s', async (_case, payload, field) => {
      // Act
      const response = await invoke(post(payload));

      // Assess
      expect(response.statusCode).toBe(400);
      expect(response.json).toEqual({
        error: { code: 'VALIDATION_ERROR', message: expect.any(String), field },
      });
      expect(doc.calls()).toHaveLength(0);
    });

    // [field, its name in messages, the body with `bad` in that field]
    const bodyFields = [
      ['customerId', 'customerId', (bad: string) => ({ ...body, customerId: `customer${bad}42` })],
      ['currency', 'currency', (bad: string) => ({ ...body, currency: `EU${bad}` })],
      ['lines[0].sku', 'sku', (bad: string) => ({ ...body, lines: [{ ...line, sku: `BOOK${bad}1` }] })],
      ['lines[1].sku', 'sku', (bad: string) => ({ ...body, lines: [line, { ...line, sku: bad }] })],
    ] as const;
    it.each(
      bodyFields.flatMap(([field, name, withBad]) =>
        FORBIDDEN.map(([what, bad, fault]) => [field, what, withBad(bad), `${name} ${fault}`] as const),
      ),
    )('answers 400 naming %s when it holds %s', async (field, _what, payload, message) => {
      // Act
      const response = await invoke(post(escapedJson(payload)));

      // Assess
      expect(response.statusCode).toBe(400);
      expect(response.json).toEqual({
        error: {
          code: 'VALIDATION_ERROR',
          message,
          field,
        },
      });
      expect(doc.calls()).toHaveLength(0);
    });

    it.each([
      ['an invalid byte inside a string', Buffer.from('{"customerId":"customer\xff42"}', 'latin1')],
      [
        'a truncated multi-byte sequence',
        Buffer.concat([Buffer.from('{"customerId":"a'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')]),
      ],
      [
        'an encoded surrogate (CESU-8)',
        Buffer.concat([Buffer.from('{"customerId":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
      ],
      [
        'an overlong encoding of "/"',
        Buffer.concat([Buffer.from('{"customerId":"a'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]),
      ],
    ])('answers 400 INVALID_JSON for a base64 body with %s', async (_case, bytes) => {
      // Prepare
      const event = httpEvent('POST /orders', {
        body: bytes.toString('base64'),
        headers: jsonHeaders,
        isBase64Encoded: true,
      });

      // Act
      const response = await invoke(event);

      // Assess
      expect(response.statusCode).toBe(400);
      expect(response.json).toEqual({
        error: { code: 'INVALID_JSON', message: 'Request body must be valid UTF-8 JSON' },
      });
      expect(doc.calls()).toHaveLength(0);
    });

    it.each([
      [
        'an unpaired surrogate, which no UTF-8 decodes to',
        `{"customerId":"a\ud800","currency":"EUR","lines":[]}`,
      ],
      ['U+FFFD, left by a lenient decoder', JSON.stringify({ ...body, customerId: 'caf\ufffd' })],
    ])('answers 400 INVALID_JSON for a text body with %s', async (_case, text) => {
      const response = await invoke(post(text));
      expect(response.statusCode).toBe(400);
      expect(response.json).toMatchObject({ error: { code: 'INVALID_JSON' } });
      expect(doc.calls()).toHaveLength(0);
    });

    it.each([
      ['malformed JSON', '{"customerId": '],
      ['an empty body', ''],
    ])('answers 400 INVALID_JSON for %s', async (_case, raw) => {
      const response = await invoke(post(raw));
      expect(response.statusCode).toBe(400);
      expect(response.json).toMatchObject({ error: { code: 'INVALID_JSON' } });
      expect(doc.calls()).toHaveLength(0);
    });

    it.each([
      ['at the top', '{"customerId":"a","customerId":"b","currency":"EUR","lines":[]}', 'customerId'],
      [
        'in a line, one spelt with an escape',
        '{"customerId":"a","currency":"EUR","lines":[{"sku":"A","quantity":1,"unitPrice":1,"\\u0073ku":"B"}]}',
        'sku',
      ],
    ])(
      'answers 400 DUPLICATE_MEMBER for a member named twice %s, writing nothing',
      async (_case, raw, name) => {
        const response = await invoke(post(raw));
        expect(response.statusCode).toBe(400);
        expect(response.json).toEqual({
          error: {
            code: 'DUPLICATE_MEMBER',
            message: `Request body must not name a member twice in one object ("${name}")`,
            field: name,
          },
        });
        expect(doc.calls()).toHaveLength(0);
      },
    );

    it('accepts the same member name in different objects, and names that only appear in values', async () => {
      const lines = [
        { sku: 'A', quantity: 1, unitPrice: 1 },
        { sku: 'sku', quantity: 1, unitPrice: 1 },
      ];
      const response = await invoke(post({ ...body, customerId: 'sku', lines }));
      expect(response.statusCode).toBe(201);
    });

    it('answers 400 naming the limit for an order with more distinct skus than inventory can reserve at once', async () => {
      const lines = Array.from({ length: MAX_DISTINCT_SKUS + 1 }, (_, i) => ({
        sku: `SKU-${i + 1}`,
        quantity: 1,
        unitPrice: 1,
      }));
      const response = await invoke(post({ ...body, lines }));
      expect(response.statusCode).toBe(400);
      expect(response.json).toEqual({
        error: {
          code: 'VALIDATION_ERROR',
          message: `lines must name at most ${MAX_DISTINCT_SKUS} distinct skus: inventory reserves an order's stock in one DynamoDB transaction`,
          field: 'lines',
        },
      });
      expect(doc.calls()).toHaveLength(0);
      const atLimit = await invoke(post({ ...body, lines: [...lines.slice(1), lines[1]] }));
      expect(atLimit.statusCode).toBe(201);
    });

    it('answers 400 INVALID_JSON for bytes that are not UTF-8', async () => {
      const event = httpEvent('POST /orders', {
        body: Buffer.from([0x7b, 0xff, 0x7d]).toString('base64'),
        headers: jsonHeaders,
        isBase64Encoded: true,
      });
      const response = await invoke(event);
      expect(response.statusCode).toBe(400);
      expect(response.json).toMatchObject({ error: { code: 'INVALID_JSON' } });
    });

    it('answers 400 without a field for a body that is not an object', async () => {
      const response = await invoke(post([body]));
      expect(response.statusCode).toBe(400);
      expect(response.json).toEqual({
        error: { code: 'VALIDATION_ERROR', message: 'body must be a JSON object' },
      });
    });

    it('accepts a body of exactly 64 KiB and rejects one byte more with 413', async () => {
      // Prepare
      const json = JSON.stringify(body);
      const exact = json + ' '.repeat(64 * 1024 - json.length);

      // Act
      const accepted = await invoke(post(exact));
      const tooLarge = await invoke(post(`${exact} `));

      // Assess
      expect(accepted.statusCode).toBe(201);
      expect(tooLarge.statusCode).toBe(413);
      expect(tooLarge.json).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
      expect(doc.commandCalls(TransactWriteCommand)).toHaveLength(1);
    });

    it('measures and decodes a base64-encoded body', async () => {
      const event = httpEvent('POST /orders', {
        body: Buffer.from(JSON.stringify(body)).toString('base64'),
        headers: jsonHeaders,
        isBase64Encoded: true,
      });
      expect((await invoke(event)).statusCode).toBe(201);
    });

    it.each([
      ['no Content-Type', {}],
      ['text/plain', { 'content-type': 'text/plain' }],
      ['a non-UTF-8 charset', { 'content-type': 'application/json; charset=iso-8859-1' }],
    ])('answers 415 for %s', async (_case, headers) => {
      const event = httpEvent('POST /orders', { body: JSON.stringify(body), headers });
      const response = await invoke(event);
      expect(response.statusCode).toBe(415);
      expect(response.json).toMatchObject({ error: { code: 'UNSUPPORTED_MEDIA_TYPE' } });
      expect(doc.calls()).toHaveLength(0);
    });

    it('accepts JSON media types with a UTF-8 charset or a +json suffix', async () => {
      for (const contentType of ['application/json; charset=UTF-8', 'application/vnd.orders+json']) {
        const event = httpEvent('POST /orders', {
          body: JSON.stringify(body),
          headers: { 'content-type': contentType },
        });
        expect((await invoke(event)).statusCode).toBe(201);
      }
    });

    it.each([
      ['a space', 'my key'],
      ['a key separator', 'a#b'],
      ['129 characters', 'k'.repeat(129)],
      ['an empty value', ''],
      ['a C1 control character (obs-text in the header)', 'key\u0085'],
    ])('answers 400 for an Idempotency-Key with %s', async (_case, key) => {
      const response = await invoke(post(body, { 'idempotency-key': key }));
      expect(response.statusCode).toBe(400);
      expect(response.json).toMatchObject({
        error: { code: 'INVALID_IDEMPOTENCY_KEY', field: 'Idempotency-Key' },
      });
      expect(doc.calls()).toHaveLength(0);
    });
  });

  describe('POST /orders with an Idempotency-Key', () => {
    const KEY = 'checkout-7f3c';

    it('derives the order id from the key and stores the request fingerprint on the order', async () => {
      const response = await invoke(post(body, { 'idempotency-key': KEY }));
      expect(response.json.orderId).toBe(orderIdForKey('anonymous', KEY));
      expect(transactItems()[0]?.Put?.Item?.requestHash).toMatch(/^[0-9a-f]{64}$/);
      expect(response.json).not.toHaveProperty('requestHash');
    });

    it('replays: same key and body returns the original status and body, and nothing new is written', async () => {
      // Prepare
      const original = await invoke(post(body, { 'idempotency-key': KEY }));
      const stored = transactItems()[0]?.Put?.Item ?? {};
      // Later the order was cancelled: the replay must still answer what the first request got.
      doc.on(TransactWriteCommand).rejects(
        canceled(['ConditionalCheckFailed', 'None'], {
          ...stored,
          status: 'CANCELLED',
          version: 2,
        }),
      );
      addMetric.mockClear();

      // Act
      const replay = await invoke(post(JSON.stringify(body, null, 2), { 'idempotency-key': KEY }));

      // Assess
      expect(replay.statusCode).toBe(201);
      expect(replay.body).toBe(original.body);
      expect(replay.headers).toMatchObject({
        location: original.headers?.location,
        'idempotent-replayed': 'true',
      });
      expect(addMetric).not.toHaveBeenCalled();
    });

    it('reads the order when DynamoDB does not return it with the cancellation', async () => {
      // Prepare
      await invoke(post(body, { 'idempotency-key': KEY }));
      const stored = transactItems()[0]?.Put?.Item ?? {};
      doc.on(TransactWriteCommand).rejects(canceled(['ConditionalCheckFailed', 'None']));
      doc.on(GetCommand).resolves({ Item: stored });

      // Act
      const replay = await invoke(post(body, { 'idempotency-key': KEY }));

      // Assess
      expect(replay.statusCode).toBe(201);
      expect(doc.commandCalls(GetCommand)).toHaveLength(1);
    });

    it('answers 422 for the same key with a different body', async () => {
      // Prepare
      await invoke(post(body, { 'idempotency-key': KEY }));
      const stored = transactItems()[0]?.Put?.Item ?? {};
      doc.on(TransactWriteCommand).rejects(canceled(['ConditionalCheckFailed', 'None'], stored));

      // Act
      const response = await invoke(post({ ...body, currency: 'USD' }, { 'idempotency-key': KEY }));

      // Assess
      expect(response.statusCode).toBe(422);
      expect(response.json).toMatchObject({
        error: { code: 'IDEMPOTENCY_KEY_REUSED', field: 'Idempotency-Key' },
      });
    });

    it('answers 409 with Retry-After while a request with the same key is being committed', async () => {
      doc.on(TransactWriteCommand).rejects(canceled(['TransactionConflict', 'None']));
      const response = await invoke(post(body, { 'idempotency-key': KEY }));
      expect(response.statusCode).toBe(409);
      expect(response.headers).toMatchObject({ 'retry-after': '1' });
      expect(response.json).toMatchObject({ error: { code: 'IDEMPOTENCY_KEY_IN_USE' } });
    });

    it('scopes keys per caller: one IAM role (any session) shares a scope, another principal does not', async () => {
      // Prepare
      const iam = (userArn: string) => ({ iam: { userArn } });
      const callAs = async (authorizer: unknown) => {
        const event = post(body, { 'idempotency-key': KEY });
        const response = await handlerWith()(
          { ...event, requestContext: { ...event.requestContext, authorizer } } as APIGatewayProxyEventV2,
          lambdaContext,
        );
        return (JSON.parse(response.body ?? '{}') as { orderId: string }).orderId;
      };

      // Act
      const session1 = await callAs(iam('arn:aws:sts::123456789012:assumed-role/checkout/session-1'));
      const session2 = await callAs(iam('arn:aws:sts::123456789012:assumed-role/checkout/session-2'));
      const otherRole = await callAs(iam('arn:aws:sts::123456789012:assumed-role/billing/session-1'));
      const jwtUser = await callAs({ jwt: { claims: { iss: 'https://issuer.example.com', sub: 'user-1' } } });

      // Assess
      expect(session2).toBe(session1);
      expect(new Set([session1, otherRole, jwtUser, orderIdForKey('anonymous', KEY)]).size).toBe(4);
    });
  });

  describe('GET /orders/{orderId}', () => {
    it('answers 200 with the order, without keys or the request fingerprint', async () => {
      // Prepare
      await invoke(post(body, { 'idempotency-key': 'k' }));
      const stored = transactItems()[0]?.Put?.Item ?? {};
      doc.on(GetCommand).resolves({ Item: stored });

      // Act
      const response = await invoke(
        httpEvent('GET /orders/{orderId}', { pathParameters: { orderId: stored.orderId } }),
      );

      // Assess
      expect(response.statusCode).toBe(200);
      expect(Object.keys(response.json).sort()).toEqual(
        [
          'createdAt',
          'currency',
          'customerId',
          'lines',
          'orderId',
          'status',
          'total',
          'updatedAt',
          'version',
        ].sort(),
      );
    });

    it('answers 404 for an unknown order', async () => {
      doc.on(GetCommand).resolves({});
      const response = await invoke(
        httpEvent('GET /orders/{orderId}', { pathParameters: { orderId: ORDER_ID } }),
      );
      expect(response.statusCode).toBe(404);
      expect(response.json).toEqual({
        error: { code: 'ORDER_NOT_FOUND', message: 'Order not found', field: 'orderId' },
      });
    });

    it.each([
      'abc',
      'ORDER#01JD0000000000000000000001',
      '01jd0000000000000000000001',
      '81JD0000000000000000000001',
      '01JD000000000000000000000\u0000',
      '\ud80001JD0000000000000000000',
    ])('answers 400 for the malformed id %j without touching the table', async (orderId) => {
      const response = await invoke(httpEvent('GET /orders/{orderId}', { pathParameters: { orderId } }));
      expect(response.statusCode).toBe(400);
      expect(response.json).toMatchObject({ error: { code: 'INVALID_ORDER_ID', field: 'orderId' } });
      expect(doc.calls()).toHaveLength(0);
    });
  });

  describe('POST /orders/{orderId}/cancel', () => {
    const placedItem = {
      PK: `ORDER#${ORDER_ID}`,
      SK: 'ORDER',
      orderId: ORDER_ID,
      customerId: 'customer-42',
      currency: 'EUR',
      lines: body.lines,
      total: 2699,
      status: 'PLACED',
      version: 1,
      createdAt: NOW,
      updatedAt: NOW,
    };
    const cancel = (payload?: unknown) =>
      httpEvent('POST /orders/{orderId}/cancel', {
        pathParameters: { orderId: ORDER_ID },
        ...(payload === undefined ? {} : { body: JSON.stringify(payload), headers: jsonHeaders }),
      });

    it('answers 200 with the cancelled order after one conditional transaction with OrderCancelled sequence 2', async () => {
      // Prepare
      doc.on(GetCommand).resolves({ Item: { ...placedItem, requestHash: 'f'.repeat(64) } });

      // Act
      const response = await invoke(cancel({ reason: 'ordered twice' }));

      // Assess
      expect(response.statusCode).toBe(200);
      expect(response.json).toMatchObject({ status: 'CANCELLED', version: 2, cancelReason: 'ordered twice' });
      expect(response.json).not.toHaveProperty('requestHash');
      const [update, put] = transactItems();
      expect(update?.Update?.ConditionExpression).toBe(
        '#version = :expectedVersion AND #status = :expectedStatus',
      );
      expect(update?.Update?.ExpressionAttributeValues).toMatchObject({
        ':expectedVersion': 1,
        ':expectedStatus': 'PLACED',
        ':version': 2,
      });
      expect(put?.Put?.Item).toMatchObject({
        SK: 'OUTBOX#0000000002',
        sequence: 2,
        eventType: 'OrderCancelled',
        payload: { orderId: ORDER_ID, reason: 'ordered twice' },
      });
      expect(addMetric).toHaveBeenCalledWith(OrdersMetric.OrdersCancelled, 'Count', 1);
    });

    it('accepts a cancel without a body', async () => {
      doc.on(GetCommand).resolves({ Item: placedItem });
      expect((await invoke(cancel())).statusCode).toBe(200);
    });

    it('answers 409 and writes nothing when the order is already cancelled', async () => {
      doc.on(GetCommand).resolves({ Item: { ...placedItem, status: 'CANCELLED', version: 2 } });
      const response = await invoke(cancel());
      expect(response.statusCode).toBe(409);
      expect(response.json).toMatchObject({ error: { code: 'ORDER_NOT_CANCELLABLE' } });
      expect(doc.commandCalls(TransactWriteCommand)).toHaveLength(0);
    });

    it('answers 409 when other writes keep changing the order between read and write (3 attempts)', async () => {
      doc.on(GetCommand).resolves({ Item: placedItem });
      doc.on(TransactWriteCommand).rejects(canceled(['ConditionalCheckFailed', 'None']));
      const response = await invoke(cancel());
      expect(response.statusCode).toBe(409);
      expect(response.json).toMatchObject({ error: { code: 'ORDER_CONFLICT' } });
      expect(doc.commandCalls(TransactWriteCommand)).toHaveLength(3);
    });

    it('cancels a confirmed order after losing the race to its confirmation', async () => {
      doc
        .on(GetCommand)
        .resolvesOnce({ Item: placedItem })
        .resolves({ Item: { ...placedItem, status: 'CONFIRMED', version: 2 } });
      doc
        .on(TransactWriteCommand)
        .rejectsOnce(canceled(['ConditionalCheckFailed', 'None']))
        .resolves({});
      const response = await invoke(cancel());
      expect(response.statusCode).toBe(200);
      expect(response.json).toMatchObject({ status: 'CANCELLED', version: 3 });
    });

    it('answers 409 and writes nothing when the order was rejected', async () => {
      doc.on(GetCommand).resolves({
        Item: { ...placedItem, status: 'REJECTED', version: 2, rejectionReason: 'timeout' },
      });
      const response = await invoke(cancel());
      expect(response.statusCode).toBe(409);
      expect(response.json).toMatchObject({
        error: { code: 'ORDER_NOT_CANCELLABLE', message: 'Order is REJECTED and cannot be cancelled' },
      });
      expect(doc.commandCalls(TransactWriteCommand)).toHaveLength(0);
    });

    it.each(FORBIDDEN)(
      'answers 400 naming reason when it holds %s, before reading the order',
      async (_what, bad, fault) => {
        // Act
        const response = await invoke({
          ...cancel(),
          body: escapedJson({ reason: `ordered${bad}twice` }),
          headers: jsonHeaders,
        });

        // Assess
        expect(response.statusCode).toBe(400);
        expect(response.json).toEqual({
          error: {
            code: 'VALIDATION_ERROR',
            message: `reason ${fault}`,
            field: 'reason',
          },
        });
        expect(doc.calls()).toHaveLength(0);
      },
    );

    it('answers 400 INVALID_JSON for a reason whose bytes are not UTF-8, before reading the order', async () => {
      const response = await invoke({
        ...cancel(),
        headers: jsonHeaders,
        body: Buffer.concat([
          Buffer.from('{"reason":"ordered '),
          Buffer.from([0xfe]),
          Buffer.from('"}'),
        ]).toString('base64'),
        isBase64Encoded: true,
      });
      expect(response.statusCode).toBe(400);
      expect(response.json).toMatchObject({ error: { code: 'INVALID_JSON' } });
      expect(doc.calls()).toHaveLength(0);
    });

    it('keeps a reason in any script, emoji and directional marks included, as sent', async () => {
      // Prepare
      doc.on(GetCommand).resolves({ Item: placedItem });
      const reason = 'הוזמן פעמיים\u200f · commandé deux fois 🙁';

      // Act
      const response = await invoke({
        ...cancel(),
        headers: jsonHeaders,
        body: Buffer.from(JSON.stringify({ reason })).toString('base64'),
        isBase64Encoded: true,
      });

      // Assess
      expect(response.statusCode).toBe(200);
      expect(response.json).toMatchObject({ cancelReason: reason });
      expect(transactItems()[1]?.Put?.Item).toMatchObject({ payload: { reason } });
    });

    it('answers 404 for an unknown order and 400 for a bad reason', async () => {
      doc.on(GetCommand).resolves({});
      expect((await invoke(cancel())).statusCode).toBe(404);
      const bad = await invoke(cancel({ reason: 42 }));
      expect(bad.statusCode).toBe(400);
      expect(bad.json).toMatchObject({ error: { field: 'reason' } });
    });
  });

  describe('failures', () => {
    it('answers 500 without internals when DynamoDB fails unexpectedly', async () => {
      doc
        .on(TransactWriteCommand)
        .rejects(new Error('arn:aws:dynamodb:us-east-1:123456789012:table/orders exploded'));
      const response = await invoke(post(body));
      expect(response.statusCode).toBe(500);
      expect(response.json).toEqual({ error: { code: 'INTERNAL_ERROR', message: 'Internal server error' } });
    });

    it('answers 503 with Retry-After when DynamoDB throttles', async () => {
      doc.on(TransactWriteCommand).rejects(canceled(['ThrottlingError', 'None']));
      const response = await invoke(post(body));
      expect(response.statusCode).toBe(503);
      expect(response.headers).toMatchObject({ 'retry-after': '1' });
    });

    it('answers 404 in the error shape for a route it does not serve', async () => {
      const response = await invoke(httpEvent('DELETE /orders/{orderId}'));
      expect(response.statusCode).toBe(404);
      expect(response.json).toMatchObject({ error: { code: 'NOT_FOUND' } });
    });
  });
});
