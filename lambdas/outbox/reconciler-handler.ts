import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger, metrics, tracer } from './powertools';
import type { ReconcileReport } from './reconciler';
import { reconcilerSettings } from './settings';
import { buildReconcilerHandler } from './wiring';

/** Stop starting new pages this close to the timeout: a page's publish and marks must finish. */
const SAFETY_MARGIN_MS = 20_000;

const reconcile = buildReconcilerHandler({
  settings: reconcilerSettings.fromEnv(),
  clients: {
    dynamoDb: tracer.captureAWSv3Client(new DynamoDBClient({})),
    eventBridge: tracer.captureAWSv3Client(new EventBridgeClient({})),
    sqs: tracer.captureAWSv3Client(new SQSClient({})),
  },
});

/** Scheduled (EventBridge rule, rate): the scheduled event's content is not used. */
export const handler = middy(
  (_event: unknown, context: Context): Promise<ReconcileReport> =>
    reconcile(() => context.getRemainingTimeInMillis() > SAFETY_MARGIN_MS),
)
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
