import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import middy, { type MiddlewareObj, type MiddyfiedHandler } from '@middy/core';
import type { Context } from 'aws-lambda';
import type { EnvMap } from './env-contract.js';

/**
 * One logger, one metrics and one tracer per container. Service name and namespace come from
 * POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE, set per function by the stack.
 * Handlers are wrapped with middy and the Powertools middlewares by `instrumented`, and their
 * AWS clients by `traced`: one instrumentation style.
 */
export const logger = new Logger();

/**
 * Metrics reports its own problems through our structured logger (so they respect the log level),
 * except the warning for an invocation that recorded no metric: a GET or a rejected request is
 * not an anomaly, and a warning line per such request would drown the real ones.
 */
const metricsLogger = logger.createChild({ persistentKeys: { component: 'metrics' } });
const NO_METRICS_WARNING = 'No application metrics to publish';
export const metrics = new Metrics({
  defaultDimensions: {},
  logger: {
    debug: (message: unknown) => metricsLogger.debug(String(message)),
    info: (message: unknown) => metricsLogger.info(String(message)),
    warn: (message: unknown) => {
      if (!String(message).startsWith(NO_METRICS_WARNING)) metricsLogger.warn(String(message));
    },
    error: (message: unknown) => metricsLogger.error(String(message)),
  },
});

/**
 * Whether the Powertools Tracer would trace here, by its own rule: POWERTOOLS_TRACE_ENABLED is
 * not `false`, and the code runs in Lambda (AWS_EXECUTION_ENV), neither in SAM local nor in the
 * Amplify mock. PowertoolsFunction sets POWERTOOLS_TRACE_ENABLED=false when X-Ray is disabled.
 */
export const tracingEnabled = (env: EnvMap): boolean => {
  const executionEnv = env.AWS_EXECUTION_ENV?.trim() ?? '';
  return (
    env.POWERTOOLS_TRACE_ENABLED?.trim().toLowerCase() !== 'false' &&
    executionEnv !== '' &&
    executionEnv !== 'AWS_Lambda_amplify-mock' &&
    (env.AWS_SAM_LOCAL?.trim() ?? '') === ''
  );
};

/** The Tracer once it has loaded; undefined where tracing is off. */
export let tracer: Tracer | undefined;

/** Clients handed to `traced` before the Tracer loaded: it captures them when it does. */
const untracedClients: unknown[] = [];

/**
 * The Tracer and its middleware where tracing is on, nothing elsewhere (tests, the offline runtime,
 * the benchmark, a function without X-Ray). A Tracer that traces nothing would still cost its
 * import, the X-Ray SDK's mostly: the largest part of what a function loads beyond the AWS SDK.
 * `./tracing.mjs` is a file of its own in the deployed asset (see PowertoolsFunction), so that the
 * function's bundle neither evaluates nor parses it.
 *
 * Its import starts while the module loads (in Lambda's init phase) and is awaited by the first
 * invocation, not by the module: a top-level await cannot exist in CommonJS, neither in this
 * package's CommonJS build nor in a function bundled as CommonJS.
 */
const tracingLoaded = tracingEnabled(process.env)
  ? import('./tracing.mjs').then(({ Tracer, captureLambdaHandler }) => {
      const loaded = new Tracer();
      for (const client of untracedClients.splice(0)) loaded.captureAWSv3Client(client);
      tracer = loaded;
      return { tracer: loaded, captureLambdaHandler };
    })
  : undefined;

/** `client`, its calls recorded as X-Ray subsegments when tracing is on. */
export const traced = <T>(client: T): T => {
  if (tracer) return tracer.captureAWSv3Client(client);
  if (tracingLoaded) untracedClients.push(client);
  return client;
};

/**
 * The Tracer's handler middleware, taken from the Tracer module once it has loaded: the first
 * invocation waits for it, the others find it there.
 */
const tracingMiddleware = (
  loaded: NonNullable<typeof tracingLoaded>,
  captureResponse: boolean,
): MiddlewareObj => {
  let middleware: MiddlewareObj | undefined;
  return {
    before: async (request) => {
      const { tracer, captureLambdaHandler } = await loaded;
      middleware ??= captureLambdaHandler(tracer, { captureResponse });
      await middleware.before?.(request);
    },
    after: async (request) => middleware?.after?.(request),
    onError: async (request) => middleware?.onError?.(request),
  };
};

export interface InstrumentOptions {
  /** Remove the keys an invocation appended to the logger when it ends. @default false */
  readonly resetKeys?: boolean;
  /** Record the handler's response in its X-Ray subsegment. @default true */
  readonly captureResponse?: boolean;
}

/**
 * `handler` as Lambda runs it: a subsegment per invocation with the cold start annotated (when
 * tracing is on), the Lambda context in every log line, and the metrics flushed after each call.
 */
export const instrumented = <TEvent, TResult>(
  handler: (event: TEvent, context: Context) => Promise<TResult>,
  options: InstrumentOptions = {},
): MiddyfiedHandler<TEvent, TResult> => {
  const wrapped = middy(handler);
  if (tracingLoaded) wrapped.use(tracingMiddleware(tracingLoaded, options.captureResponse ?? true));
  return wrapped
    .use(injectLambdaContext(logger, options.resetKeys ? { resetKeys: true } : undefined))
    .use(logMetrics(metrics));
};
