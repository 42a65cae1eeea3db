import { Buffer } from 'node:buffer';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type * as z from 'zod';
import { MetricName } from '../../shared/metric-names';
import { logger, metrics, tracer } from '../../shared/powertools';
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
import { isOrderId } from '../domain/order-id';
import { type ErrorBody, errorResponse, HttpError, json, orderBody } from './responses';
import type { OrdersRouteKey } from './routes';
import {
  CORRELATION_ID_PATTERN,
  cancelOrderBodySchema,
  IDEMPOTENCY_KEY_PATTERN,
  MAX_BODY_BYTES,
  placeOrderBodySchema,
} from './schemas';

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
        metrics.addMetric(MetricName.OrdersPlaced, MetricUnit.Count, 1);
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
      metrics.addMetric(MetricName.OrdersCancelled, MetricUnit.Count, 1);
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
  return middy(handle)
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics));
};

const header = (event: APIGatewayProxyEventV2, name: string): string | undefined => event.headers?.[name];

const readCorrelationId = (event: APIGatewayProxyEventV2): string => {
  const supplied = header(event, 'x-correlation-id');
  return supplied !== undefined && CORRELATION_ID_PATTERN.test(supplied)
    ? supplied
    : event.requestContext.requestId;
};

const readIdempotencyKey = (event: APIGatewayProxyEventV2): string | undefined => {
  const key = header(event, 'idempotency-key');
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY_PATTERN.test(key))
    throw new HttpError(
      400,
      'INVALID_IDEMPOTENCY_KEY',
      'Idempotency-Key must be 1 to 128 characters of letters, digits, _ and -',
      'Idempotency-Key',
    );
  return key;
};

const readOrderId = (event: APIGatewayProxyEventV2): string => {
  const orderId = event.pathParameters?.orderId;
  if (orderId === undefined || !isOrderId(orderId))
    throw new HttpError(400, 'INVALID_ORDER_ID', 'orderId must be a 26-character ULID', 'orderId');
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
function parseBody<T extends z.ZodType>(event: APIGatewayProxyEventV2, schema: T, required: true): z.infer<T>;
function parseBody<T extends z.ZodType>(
  event: APIGatewayProxyEventV2,
  schema: T,
  required: false,
): z.infer<T> | undefined;
function parseBody<T extends z.ZodType>(
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
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new HttpError(400, 'INVALID_JSON', 'Request body must be valid UTF-8 JSON');
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const [issue] = parsed.error.issues;
  const path =
    issue?.code === 'unrecognized_keys' ? [...issue.path, ...issue.keys.slice(0, 1)] : (issue?.path ?? []);
  const field = fieldName(path);
  throw new HttpError(400, 'VALIDATION_ERROR', issue?.message ?? 'Invalid request body', field);
}

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
