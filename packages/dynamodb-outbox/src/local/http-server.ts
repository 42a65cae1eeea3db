import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { answerUnparsableRequests, closeServer, listen, RequestBodyTooLargeError, readBody } from './http.js';

export { PortInUseError } from './http.js';

/**
 * A local stand-in for API Gateway HTTP API in front of one Lambda function: requests become
 * payload format 2.0 events, the function's result becomes the response, and the gateway's own
 * answers (no route, body too large, function failed) look like the real ones. No authorizer:
 * the offline runtime is unauthenticated by design.
 */

/** A route as HTTP API defines it: a method and a path template with `{name}` parameters. */
export interface HttpRoute {
  readonly method: string;
  readonly path: string;
}

export type HttpApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyResultV2>;

export interface ResponseInfo {
  readonly routeKey: string;
  readonly method: string;
  readonly path: string;
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly durationMs: number;
}

export interface LocalHttpApiOptions {
  readonly routes: readonly HttpRoute[];
  readonly handler: HttpApiHandler;
  /** 0 picks a free port. */
  readonly port: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Reported in the Lambda context. @default 'local-http-api' */
  readonly functionName?: string;
  /** Matches the deployed function's timeout: the context's remaining time counts down from it. @default 10_000 */
  readonly functionTimeoutMs?: number;
  /** Called after every response, e.g. to print a line per accepted order. */
  readonly onResponse?: (info: ResponseInfo) => void;
}

export interface LocalHttpApi {
  readonly url: string;
  readonly port: number;
  /** Stop taking connections, let requests under way finish (HTTP_API_DRAIN_MS at most), then close. */
  close(): Promise<void>;
}

/**
 * How long closing lets requests under way finish (offline, a graceful stop of the runtime), well
 * within the 10 s a stop gets before it is abandoned (shutdown.ts). Later requests are dropped.
 */
export const HTTP_API_DRAIN_MS = 5_000;

/** HTTP API's payload limit; anything larger never reaches the function. */
export const GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

const TEXT_MEDIA_TYPE =
  /^(text\/.*|application\/(json|[\w.+-]+\+json|xml|[\w.+-]+\+xml|javascript|x-www-form-urlencoded))$/;

interface CompiledRoute {
  readonly routeKey: string;
  readonly method: string;
  readonly segments: readonly string[];
}

const compile = (route: HttpRoute): CompiledRoute => ({
  routeKey: `${route.method} ${route.path}`,
  method: route.method.toUpperCase(),
  segments: route.path.split('/').slice(1),
});

/** Match like HTTP API: exact segments, `{name}` captures one segment. */
export const matchRoute = (
  routes: readonly HttpRoute[],
  method: string,
  path: string,
): { routeKey: string; pathParameters?: Record<string, string> } | undefined => {
  const requested = path.split('/').slice(1);
  for (const route of routes.map(compile)) {
    if (route.method !== method.toUpperCase() || route.segments.length !== requested.length) continue;
    const params: Record<string, string> = {};
    const matches = route.segments.every((segment, i) => {
      const value = requested[i] ?? '';
      if (segment.startsWith('{') && segment.endsWith('}')) {
        if (value === '') return false;
        params[segment.slice(1, -1)] = safeDecode(value);
        return true;
      }
      return segment === value;
    });
    if (matches)
      return { routeKey: route.routeKey, ...(Object.keys(params).length ? { pathParameters: params } : {}) };
  }
  return undefined;
};

const safeDecode = (value: string): string => {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
};

/** Node's lower-cased headers folded as HTTP API does: repeated headers joined with commas, cookies apart. */
const foldHeaders = (req: IncomingMessage): { headers: Record<string, string>; cookies: string[] } => {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] ?? '').toLowerCase();
    const value = req.rawHeaders[i + 1] ?? '';
    if (name === 'cookie')
      cookies.push(
        ...value
          .split(';')
          .map((c) => c.trim())
          .filter(Boolean),
      );
    else headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  return { headers, cookies };
};

const gatewayTime = (date: Date): string => {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
};

/**
 * Build the payload format 2.0 event API Gateway would send for this request. A body under a text
 * media type arrives as a string, any other body base64-encoded. A "text" body whose bytes are not
 * UTF-8 is base64-encoded too: decoding it here would replace the bad bytes with U+FFFD before the
 * function could see them. (What API Gateway does with such a body is not documented; the orders
 * handler refuses it either way.)
 */
export const toHttpApiEvent = (
  req: IncomingMessage,
  body: Buffer,
  match: { routeKey: string; pathParameters?: Record<string, string> },
  now: Date = new Date(),
): APIGatewayProxyEventV2 => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const { headers, cookies } = foldHeaders(req);
  const query: Record<string, string> = {};
  for (const [key, value] of url.searchParams) query[key] = key in query ? `${query[key]},${value}` : value;
  const mediaType = (headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const isBase64Encoded = body.length > 0 && !(TEXT_MEDIA_TYPE.test(mediaType) && isUtf8(body));
  const rawQueryString = (req.url ?? '').includes('?')
    ? (req.url ?? '').slice((req.url ?? '').indexOf('?') + 1)
    : '';
  const method = (req.method ?? 'GET').toUpperCase();
  const domainName = headers.host ?? 'localhost';
  return {
    version: '2.0',
    routeKey: match.routeKey,
    rawPath: url.pathname,
    rawQueryString,
    ...(cookies.length ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: 'offline',
      apiId: 'local',
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: match.routeKey,
      stage: '$default',
      time: gatewayTime(now),
      timeEpoch: now.getTime(),
    },
    ...(match.pathParameters ? { pathParameters: match.pathParameters } : {}),
    ...(body.length ? { body: isBase64Encoded ? body.toString('base64') : body.toString('utf8') } : {}),
    isBase64Encoded,
  };
};

const lambdaContext = (functionName: string, timeoutMs: number): Context => {
  const deadline = Date.now() + timeoutMs;
  const awsRequestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
};

interface Outgoing {
  statusCode: number;
  headers: Record<string, string>;
  cookies: string[];
  body: Buffer;
}

/** Interpret a function result as HTTP API does for payload format 2.0. */
export const fromHttpApiResult = (result: APIGatewayProxyResultV2): Outgoing => {
  if (
    typeof result === 'object' &&
    result !== null &&
    'statusCode' in result &&
    result.statusCode !== undefined
  ) {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(result.headers ?? {}))
      headers[name.toLowerCase()] = String(value);
    const raw = result.body ?? '';
    return {
      statusCode: result.statusCode,
      headers,
      cookies: result.cookies ?? [],
      body: result.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8'),
    };
  }
  // Without a statusCode the gateway assumes 200 and serializes the value as JSON.
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    cookies: [],
    body: Buffer.from(typeof result === 'string' ? result : JSON.stringify(result), 'utf8'),
  };
};

const gatewayError = (statusCode: number, message: string): Outgoing => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  cookies: [],
  body: Buffer.from(JSON.stringify({ message })),
});

/** The request body, or undefined when it is over the gateway's limit (answered with 413). */
const readGatewayBody = (req: IncomingMessage): Promise<Buffer | undefined> =>
  readBody(req, GATEWAY_MAX_BODY_BYTES).catch((error: unknown) => {
    if (error instanceof RequestBodyTooLargeError) return undefined;
    throw error;
  });

/** Serve `handler` behind a local HTTP API emulation. Rejects with PortInUseError for a busy port. */
export const startLocalHttpApi = async (options: LocalHttpApiOptions): Promise<LocalHttpApi> => {
  const host = options.host ?? '127.0.0.1';
  const functionName = options.functionName ?? 'local-http-api';
  const timeoutMs = options.functionTimeoutMs ?? 10_000;

  let draining = false;

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const match = matchRoute(options.routes, method, path);
    let outgoing: Outgoing;
    if (match === undefined) {
      req.resume();
      outgoing = gatewayError(404, 'Not Found');
    } else {
      const body = await readGatewayBody(req);
      if (body === undefined) outgoing = gatewayError(413, 'Request Entity Too Large');
      else {
        try {
          const event = toHttpApiEvent(req, body, match);
          outgoing = fromHttpApiResult(await options.handler(event, lambdaContext(functionName, timeoutMs)));
        } catch (error) {
          // What API Gateway answers when the function throws; the cause is shown only locally.
          console.error('Function error:', error);
          outgoing = gatewayError(500, 'Internal Server Error');
        }
      }
    }
    const headers: Record<string, string | string[]> = { ...outgoing.headers };
    if (outgoing.cookies.length) headers['set-cookie'] = outgoing.cookies;
    headers['content-length'] = String(outgoing.body.length);
    // Closing: this answer is the connection's last, so that the server can close once it is sent.
    if (draining) headers.connection = 'close';
    res.writeHead(outgoing.statusCode, headers);
    res.end(outgoing.body);
    options.onResponse?.({
      routeKey: match?.routeKey ?? '$unmatched',
      method,
      path,
      statusCode: outgoing.statusCode,
      headers: outgoing.headers,
      body: outgoing.body.toString('utf8'),
      durationMs: performance.now() - started,
    });
  };

  const server = createServer((req, res) => {
    serve(req, res).catch((error: unknown) => {
      console.error('Local HTTP API failed to answer:', error);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Internal Server Error' }));
    });
  });

  // In the gateway's shape, as its own answers before the function runs are.
  answerUnparsableRequests(server, (message) => ({ message }));

  const port = await listen(server, options.port, host);
  return {
    url: `http://${host}:${port}`,
    port,
    close: () => {
      draining = true;
      return closeServer(server, HTTP_API_DRAIN_MS);
    },
  };
};
