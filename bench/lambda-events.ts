import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';

/** What API Gateway HTTP API (payload format 2.0) hands the function for a JSON request. */
export const httpApiEvent = (options: {
  readonly method: string;
  readonly path: string;
  readonly routeKey: string;
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly now?: Date;
}): APIGatewayProxyEventV2 => {
  const now = options.now ?? new Date();
  const requestId = randomUUID();
  return {
    version: '2.0',
    routeKey: options.routeKey,
    rawPath: options.path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', host: 'bench.local', ...options.headers },
    requestContext: {
      accountId: '000000000000',
      apiId: 'bench',
      domainName: 'bench.local',
      domainPrefix: 'bench',
      http: {
        method: options.method,
        path: options.path,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'dynamodb-outbox-bench',
      },
      requestId,
      routeKey: options.routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(options.body === undefined ? {} : { body: options.body }),
    isBase64Encoded: false,
  };
};

/** A Lambda context for one invocation, counting down from the function's timeout. */
export const lambdaContext = (functionName: string, memoryMb: number, timeoutMs: number): Context => {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
};

const SKUS = ['BOOK-0001', 'MUG-0042', 'TSHIRT-L-BLUE', 'STICKER-PACK', 'POSTER-A2'];

/** A typical POST /orders body: three lines, prices in cents. Varies with `n` so no two are equal. */
export const orderBody = (n: number): string =>
  JSON.stringify({
    customerId: `customer-${n % 997}`,
    currency: 'EUR',
    lines: [0, 1, 2].map((i) => ({
      sku: SKUS[(n + i) % SKUS.length],
      quantity: 1 + ((n + i) % 3),
      unitPrice: 499 + ((n * 7 + i * 131) % 5000),
    })),
  });
