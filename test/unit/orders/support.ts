import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/** An API Gateway HTTP API (payload 2.0) event, as the deployed API sends it. */
export const httpEvent = (
  routeKey: string,
  options: {
    body?: string;
    headers?: Record<string, string>;
    pathParameters?: Record<string, string>;
    isBase64Encoded?: boolean;
    authorizer?: unknown;
  } = {},
): APIGatewayProxyEventV2 => {
  const [method = 'GET', path = '/'] = routeKey.split(' ');
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: '',
    headers: { host: 'api.example.com', ...options.headers },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'test' },
      requestId: 'request-1',
      routeKey,
      stage: '$default',
      time: '22/Nov/2026:10:00:00 +0000',
      timeEpoch: 1_795_348_800_000,
      ...(options.authorizer === undefined ? {} : { authorizer: options.authorizer }),
    },
    ...(options.pathParameters ? { pathParameters: options.pathParameters } : {}),
    ...(options.body === undefined ? {} : { body: options.body }),
    isBase64Encoded: options.isBase64Encoded ?? false,
  };
};

export const jsonHeaders = { 'content-type': 'application/json' };

/** Deterministic ids: ULID-shaped, increasing. */
export const sequentialIds = (prefix = '01JD0000000000000000000') => {
  let n = 0;
  return { next: () => `${prefix}${String(++n).padStart(26 - prefix.length, '0')}` };
};

export const fixedClock = (iso = '2026-11-22T10:00:00.000Z') => ({ now: () => iso });
