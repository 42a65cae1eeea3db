import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, listen, RequestBodyTooLargeError, readBody, sendJson } from './http.js';

/**
 * The local Lambda endpoint, as `sam local start-lambda` offers one: the Lambda API's Invoke and
 * ListFunctions over the functions the runtime runs, so that `aws lambda invoke --endpoint-url`
 * and the SDK's LambdaClient reach them. Invoke takes the three invocation types
 * (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html): RequestResponse answers the
 * result, a function error as status 200 with X-Amz-Function-Error: Unhandled and
 * {errorType, errorMessage}; Event queues the event (202) with the function's asynchronous
 * invocation settings; DryRun checks the function exists (204).
 */

/** A function as the endpoint knows it. */
export interface EndpointFunction {
  /** Its FunctionName: the template's, else its logical id. */
  readonly name: string;
  readonly arn: string;
  readonly runtime: string;
  readonly handler: string;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  /** RequestResponse: the handler's result; rejects with the handler's error. */
  invoke(event: unknown): Promise<unknown>;
  /** Event: queued with the function's asynchronous invocation settings. */
  invokeAsync(event: unknown): Promise<void>;
}

export interface LambdaEndpointOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /**
   * The function a FunctionName of a request names (a name, an ARN, a partial ARN, or what else
   * the runtime accepts); undefined when there is none.
   */
  readonly find: (name: string) => EndpointFunction | undefined;
  /** Every function, for ListFunctions. */
  readonly functions: () => readonly EndpointFunction[];
}

export interface LocalLambdaEndpoint {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Lambda's limit of a synchronous invocation's payload: 6 MB (Lambda quotas). */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** The API version of Lambda's REST paths. */
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/;
const LIST_PATH = /^\/2015-03-31\/functions\/?$/;

/** Lambda's error answers carry the type in a header and in the body. */
const sendError = (response: ServerResponse, status: number, type: string, message: string): void =>
  sendJson(response, status, { Type: 'User', message }, { 'x-amzn-ErrorType': type });

const configurationOf = (fn: EndpointFunction) => ({
  FunctionName: fn.name,
  FunctionArn: fn.arn,
  Runtime: fn.runtime,
  Handler: fn.handler,
  Timeout: fn.timeoutSeconds,
  MemorySize: fn.memorySize,
  PackageType: 'Zip',
  Version: '$LATEST',
  State: 'Active',
});

const invoke = async (
  options: LambdaEndpointOptions,
  name: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> => {
  const fn = options.find(name);
  if (fn === undefined)
    return sendError(response, 404, 'ResourceNotFoundException', `Function not found: ${name}`);
  const type = String(request.headers['x-amz-invocation-type'] ?? 'RequestResponse');
  let body: Buffer;
  try {
    body = await readBody(request, MAX_PAYLOAD_BYTES);
  } catch (error) {
    if (!(error instanceof RequestBodyTooLargeError)) throw error;
    return sendError(response, 413, 'RequestTooLargeException', 'Request must be smaller than 6291456 bytes');
  }
  let event: unknown;
  try {
    event = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch {
    return sendError(
      response,
      400,
      'InvalidRequestContentException',
      'Could not parse request body into json',
    );
  }
  const headers = { 'X-Amz-Executed-Version': '$LATEST' };
  switch (type) {
    case 'DryRun':
      response.writeHead(204, headers).end();
      return;
    case 'Event':
      await fn.invokeAsync(event);
      response.writeHead(202, headers).end();
      return;
    case 'RequestResponse':
      try {
        const result = await fn.invoke(event);
        return sendJson(response, 200, result ?? null, headers);
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        return sendJson(
          response,
          200,
          { errorType: failure.name, errorMessage: failure.message },
          { ...headers, 'X-Amz-Function-Error': 'Unhandled' },
        );
      }
    default:
      return sendError(
        response,
        400,
        'InvalidParameterValueException',
        `Invalid invocation type ${type}: RequestResponse, Event or DryRun`,
      );
  }
};

const handle = async (
  options: LambdaEndpointOptions,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> => {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  const invocation = INVOKE_PATH.exec(path);
  if (request.method === 'POST' && invocation)
    return invoke(options, decodeURIComponent(invocation[1] ?? ''), request, response);
  if (request.method === 'GET' && LIST_PATH.test(path))
    return sendJson(response, 200, { Functions: options.functions().map(configurationOf) });
  request.resume();
  return sendError(
    response,
    404,
    'UnknownOperationException',
    `${request.method} ${path}: the local Lambda endpoint answers Invoke and ListFunctions`,
  );
};

export const startLambdaEndpoint = async (options: LambdaEndpointOptions): Promise<LocalLambdaEndpoint> => {
  const server: Server = createServer((request, response) => {
    handle(options, request, response).catch((error: unknown) =>
      sendError(response, 500, 'ServiceException', error instanceof Error ? error.message : String(error)),
    );
  });
  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, options.port, host);
  return { endpoint: `http://${host}:${port}`, port, stop: () => closeServer(server) };
};
