import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import { logger, metrics, tracer } from './powertools';
import { relaySettings } from './settings';
import { buildRelayHandler } from './wiring';

/** Lambda entry point of the outbox relay: settings and clients once per container. */
export const handler = middy(
  buildRelayHandler({
    settings: relaySettings.fromEnv(),
    clients: {
      dynamoDb: tracer.captureAWSv3Client(new DynamoDBClient({})),
      eventBridge: tracer.captureAWSv3Client(new EventBridgeClient({})),
      sqs: tracer.captureAWSv3Client(new SQSClient({})),
    },
  }),
)
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
