import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger, metrics, tracer } from '../shared/powertools';
import { type ReconcileReport, reconcile } from './reconcile';
import { reconcilerDepsFromEnv } from './wiring';

/** Stop starting new pages this close to the timeout: a page's publish and marks must finish. */
const SAFETY_MARGIN_MS = 20_000;

const deps = reconcilerDepsFromEnv();

/** Scheduled (EventBridge rule, rate): the scheduled event's content is not used. */
export const handler = middy(
  (_event: unknown, context: Context): Promise<ReconcileReport> =>
    reconcile(deps, () => context.getRemainingTimeInMillis() > SAFETY_MARGIN_MS),
)
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
