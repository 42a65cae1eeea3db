import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import middy, { type MiddyfiedHandler } from '@middy/core';
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

/**
 * The Tracer and its middleware where tracing is on, nothing elsewhere (tests, the offline runtime,
 * the benchmark, a function without X-Ray). A Tracer that traces nothing would still cost its
 * import, the X-Ray SDK's mostly: the largest part of what a function loads beyond the AWS SDK.
 * `./tracing.mjs` is a file of its own in the deployed asset (see PowertoolsFunction), so that the
 * function's bundle neither evaluates nor parses it.
 */
const tracing = tracingEnabled(process.env) ? await import('./tracing.mjs') : undefined;

export const tracer: Tracer | undefined = tracing ? new tracing.Tracer() : undefined;

/** `client`, its calls recorded as X-Ray subsegments when tracing is on. */
export const traced = <T>(client: T): T => (tracer ? tracer.captureAWSv3Client(client) : client);

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
  if (tracing && tracer)
    wrapped.use(tracing.captureLambdaHandler(tracer, { captureResponse: options.captureResponse ?? true }));
  return wrapped
    .use(injectLambdaContext(logger, options.resetKeys ? { resetKeys: true } : undefined))
    .use(logMetrics(metrics));
};
