import { Buffer } from 'node:buffer';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { instrumented, logger, metrics } from 'dynamodb-outbox/runtime';
import type * as z from '../../zod';
import { cancelOrderUseCase } from '../application/cancel-order';
import {
  IdempotencyKeyInUseError,
  IdempotencyKeyReusedError,
  OrderConflictError,
  OrderNotFoundError,
} from '../application/errors';
import { getOrderUseCase } from '../application/get-order';
import { placeOrderUseCase } from '../application/place-order';
import {
  type Clock,
  ConcurrentWriteError,
  type IdGenerator,
  type OrderStore,
  StoreBusyError,
} from '../application/ports';
import { OrderNotCancellableError } from '../domain/order';
import { OrdersMetric } from '../events';
import { duplicateMemberName } from './duplicate-keys';
import { type ErrorBody, errorResponse, HttpError, json, orderBody } from './responses';
import type { OrdersRouteKey } from './routes';
import {
  cancelOrderBodySchema,
  correlationIdSchema,
  idempotencyKeySchema,
  MAX_BODY_BYTES,
  orderIdSchema,
  placeOrderBodySchema,
} from './schemas';
import { isUtf8Text } from './text-field';

export interface OrdersApiDeps {
  readonly store: OrderStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
}

export type OrdersHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

type Route = (
  event: APIGatewayProxyEventV2,
  correlationId: string,
) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * The HTTP adapter of the orders API (API Gateway HTTP API, payload format 2.0): parse and
 * validate, call a use case, map its outcome to a response. Errors become responses in one place
 * (`toResponse`); a 5xx never carries internals.
 */
export const createOrdersHandler = (deps: OrdersApiDeps): OrdersHandler => {
  const routes: Record<OrdersRouteKey, Route> = {
    'POST /orders': async (event, correlationId) => {
      const idempotencyKey = readIdempotencyKey(event);
      const command = parseBody(event, placeOrderBodySchema, true);
      const result = await placeOrderUseCase(deps, {
        command,
        correlationId,
        ...(idempotencyKey === undefined
          ? {}
          : { idempotency: { key: idempotencyKey, scope: callerScope(event) } }),
      });
      const { order } = result;
      logger.appendKeys({ orderId: order.orderId });
      const headers: Record<string, string> = { location: `/orders/${order.orderId}` };
      if (result.replayed) {
        headers['idempotent-replayed'] = 'true';
        logger.info('Idempotent replay of a placed order');
      } else {
        logger.appendKeys({ eventId: result.eventId });
        metrics.addMetric(OrdersMetric.OrdersPlaced, MetricUnit.Count, 1);
        logger.info('Order placed', {
          total: order.total,
          currency: order.currency,
          lines: order.lines.length,
        });
      }
      return json(201, orderBody(order), headers);
    },
    'GET /orders/{orderId}': async (event) => {
      const orderId = readOrderId(event);
      return json(200, orderBody(await getOrderUseCase(deps, orderId)));
    },
    'POST /orders/{orderId}/cancel': async (event, correlationId) => {
      const orderId = readOrderId(event);
      const { reason } = parseBody(event, cancelOrderBodySchema, false) ?? {};
      const { order, eventId } = await cancelOrderUseCase(deps, {
        orderId,
        correlationId,
        ...(reason === undefined ? {} : { reason }),
      });
      logger.appendKeys({ eventId });
      metrics.addMetric(OrdersMetric.OrdersCancelled, MetricUnit.Count, 1);
      logger.info('Order cancelled');
      return json(200, orderBody(order));
    },
  };

  const handle: OrdersHandler = async (event) => {
    const correlationId = readCorrelationId(event);
    logger.appendKeys({ correlationId });
    const route = Object.hasOwn(routes, event.routeKey)
      ? routes[event.routeKey as OrdersRouteKey]
      : undefined;
    let response: APIGatewayProxyStructuredResultV2;
    try {
      if (route === undefined) throw new HttpError(404, 'NOT_FOUND', 'No such route');
      response = await route(event, correlationId);
    } catch (error) {
      response = toResponse(error);
    }
    return { ...response, headers: { ...response.headers, 'x-correlation-id': correlationId } };
  };

  // Responses carry order data: keep them out of X-Ray.
  return instrumented(handle, { resetKeys: true, captureResponse: false });
};

const header = (event: APIGatewayProxyEventV2, name: string): string | undefined => event.headers?.[name];

const readCorrelationId = (event: APIGatewayProxyEventV2): string => {
  const supplied = correlationIdSchema.safeParse(header(event, 'x-correlation-id'));
  return supplied.success ? supplied.data : event.requestContext.requestId;
};

/** A header or path value checked by `schema`; the first rule it breaks becomes a 400 naming `field`. */
const readParameter = (schema: z.ZodMiniType<string>, value: string, code: string, field: string): string => {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new HttpError(400, code, parsed.error.issues[0]?.message ?? `${field} is not valid`, field);
};

const readIdempotencyKey = (event: APIGatewayProxyEventV2): string | undefined => {
  const key = header(event, 'idempotency-key');
  return key === undefined
    ? undefined
    : readParameter(idempotencyKeySchema, key, 'INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key');
};

const readOrderId = (event: APIGatewayProxyEventV2): string => {
  const orderId = readParameter(
    orderIdSchema,
    event.pathParameters?.orderId ?? '',
    'INVALID_ORDER_ID',
    'orderId',
  );
  logger.appendKeys({ orderId });
  return orderId;
};

/**
 * Who is calling, for scoping Idempotency-Keys: the IAM role or user (an assumed role's session
 * name is dropped, so a retry after a credentials refresh still matches) or the JWT issuer and
 * subject. Offline there is no authorizer and every caller shares one scope.
 */
export const callerScope = (event: APIGatewayProxyEventV2): string => {
  const authorizer: unknown = (event.requestContext as { authorizer?: unknown }).authorizer;
  if (typeof authorizer === 'object' && authorizer !== null) {
    const { iam, jwt } = authorizer as {
      iam?: { userArn?: unknown };
      jwt?: { claims?: Record<string, unknown> };
    };
    if (typeof iam?.userArn === 'string')
      return `iam:${iam.userArn.replace(/^(arn:[^:]+:sts::\d+:assumed-role\/[^/]+)\/.*$/, '$1')}`;
    const sub = jwt?.claims?.sub;
    if (typeof sub === 'string') return `jwt:${String(jwt?.claims?.iss ?? '')}:${sub}`;
  }
  return 'anonymous';
};

const isJsonMediaType = (contentType: string): boolean => {
  const [mediaType = '', ...params] = contentType.split(';').map((part) => part.trim().toLowerCase());
  const json = mediaType === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
  const charset = params
    .find((p) => p.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/"/g, '');
  return json && (charset === undefined || charset === 'utf-8' || charset === 'utf8');
};

/**
 * Body checks in the order a client can act on them: size (413), media type (415), JSON syntax
 * and the schema (400, naming the field). `required: false` accepts an absent body.
 */
function parseBody<T extends z.ZodMiniType>(
  event: APIGatewayProxyEventV2,
  schema: T,
  required: true,
): z.infer<T>;
function parseBody<T extends z.ZodMiniType>(
  event: APIGatewayProxyEventV2,
  schema: T,
  required: false,
): z.infer<T> | undefined;
function parseBody<T extends z.ZodMiniType>(
  event: APIGatewayProxyEventV2,
  schema: T,
  required: boolean,
): z.infer<T> | undefined {
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.length > MAX_BODY_BYTES)
    throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `Request body must not exceed ${MAX_BODY_BYTES} bytes`);
  if (bytes.length === 0 && !required) return undefined;
  const contentType = header(event, 'content-type');
  if (contentType === undefined || !isJsonMediaType(contentType))
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json');
  let value: unknown;
  let text: string;
  try {
    text = bodyText(event, bytes);
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'INVALID_JSON', 'Request body must be valid UTF-8 JSON');
  }
  const duplicate = duplicateMemberName(text);
  if (duplicate !== undefined)
    throw new HttpError(
      400,
      'DUPLICATE_MEMBER',
      `Request body must not name a member twice in one object (${JSON.stringify(duplicate)})`,
      duplicate,
    );
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const [issue] = parsed.error.issues;
  const path =
    issue?.code === 'unrecognized_keys' ? [...issue.path, ...issue.keys.slice(0, 1)] : (issue?.path ?? []);
  const field = fieldName(path);
  throw new HttpError(400, 'VALIDATION_ERROR', issue?.message ?? 'Invalid request body', field);
}

/**
 * The body as text, refusing anything that was not UTF-8 on the wire. API Gateway hands the
 * function a base64 body (binary media types) or a string (text ones); what it does with invalid
 * UTF-8 under a text media type is not documented, so both shapes are checked:
 * - base64: the bytes go through a strict decoder;
 * - a string: refused if it holds an unpaired surrogate, which no UTF-8 decodes to.
 * In both, U+FFFD in the text counts as invalid UTF-8: it is what a lenient decoder on the way
 * (the gateway's, or a client's) leaves for bad bytes, and no valid request contains it, since
 * every string field refuses it (an escaped `\uFFFD` gets that field's 400).
 */
const bodyText = (event: APIGatewayProxyEventV2, bytes: Buffer): string => {
  const text = event.isBase64Encoded
    ? new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    : (event.body ?? '');
  if (!isUtf8Text(text)) throw new Error('The body is not UTF-8');
  return text;
};

/** A zod issue path as a client writes it: `lines[2].quantity`. */
const fieldName = (path: readonly PropertyKey[]): string | undefined => {
  let name = '';
  for (const part of path)
    name += typeof part === 'number' ? `[${part}]` : `${name === '' ? '' : '.'}${String(part)}`;
  return name === '' ? undefined : name;
};

/** The one place where outcomes that are not a success become HTTP responses. */
const toResponse = (error: unknown): APIGatewayProxyStructuredResultV2 => {
  const known = asHttpError(error);
  if (known !== undefined) {
    if (known.statusCode >= 500) logger.warn('Request not served', { code: known.code, error });
    else logger.info('Request rejected', { statusCode: known.statusCode, code: known.code });
    return errorResponse(known);
  }
  logger.error('Unhandled error', error instanceof Error ? error : String(error));
  const body: ErrorBody = { error: { code: 'INTERNAL_ERROR', message: 'Internal server error' } };
  return json(500, body);
};

const asHttpError = (error: unknown): HttpError | undefined => {
  if (error instanceof HttpError) return error;
  if (error instanceof OrderNotFoundError)
    return new HttpError(404, 'ORDER_NOT_FOUND', 'Order not found', 'orderId');
  if (error instanceof OrderNotCancellableError)
    return new HttpError(409, 'ORDER_NOT_CANCELLABLE', `Order is ${error.status} and cannot be cancelled`);
  if (error instanceof OrderConflictError)
    return new HttpError(
      409,
      'ORDER_CONFLICT',
      'The order was changed by another request; read it and retry',
    );
  if (error instanceof IdempotencyKeyReusedError)
    return new HttpError(
      422,
      'IDEMPOTENCY_KEY_REUSED',
      'This Idempotency-Key was already used with a different request body',
      'Idempotency-Key',
    );
  if (error instanceof IdempotencyKeyInUseError)
    return new HttpError(
      409,
      'IDEMPOTENCY_KEY_IN_USE',
      'A request with this Idempotency-Key is in progress; retry shortly',
      'Idempotency-Key',
      { 'retry-after': '1' },
    );
  if (error instanceof ConcurrentWriteError)
    return new HttpError(
      409,
      'ORDER_CONFLICT',
      'The order was changed by another request; retry',
      undefined,
      {
        'retry-after': '1',
      },
    );
  if (error instanceof StoreBusyError)
    return new HttpError(503, 'SERVICE_UNAVAILABLE', 'The service is busy; retry shortly', undefined, {
      'retry-after': '1',
    });
  return undefined;
};
