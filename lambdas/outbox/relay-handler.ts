import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { logger, metrics, tracer } from '../shared/powertools';
import { createRelayHandler } from './relay';
import { relayDepsFromEnv } from './wiring';

/**
 * Lambda entry point of the outbox relay: dependencies from the environment once per container.
 * Importing this module builds them; everything else imports `./relay` and `./wiring`, which
 * have no side effect.
 */
export const handler = middy(createRelayHandler(relayDepsFromEnv()))
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
