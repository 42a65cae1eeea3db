import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import middy from '@middy/core';
import { logger, metrics, tracer } from '../outbox/powertools';
import { buildInventoryHandler, readInventorySettings } from './wiring';

/** EventBridge rule target (asynchronous invocation): one event per call. */
export const handler = middy(
  buildInventoryHandler({
    settings: readInventorySettings(),
    clients: { dynamoDb: tracer.captureAWSv3Client(new DynamoDBClient({})) },
  }),
)
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
