import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/**
 * One logger, one metrics and one tracer per container. Service name and namespace come from
 * POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE, set per function by the stack.
 * Handlers are wrapped with middy and the Powertools middlewares: one instrumentation style.
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
export const tracer = new Tracer();
