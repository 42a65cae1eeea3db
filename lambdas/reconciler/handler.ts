import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { limitsFromEnv } from '../outbox/limits';
import { PoisonQueue } from '../outbox/poison-queue';
import { OutboxPublisher } from '../outbox/publisher';
import { intEnv, requireEnv } from '../shared/env';
import { logger, metrics, tracer } from '../shared/powertools';
import { PendingOutbox } from './pending-outbox';
import { type ReconcileReport, reconcile } from './reconcile';

/** Stop starting new pages this close to the timeout: a page's publish and marks must finish. */
const SAFETY_MARGIN_MS = 20_000;

const positive = (name: string, fallback: number): number => {
  const value = intEnv(name, fallback);
  if (value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
};

const tableName = requireEnv('TABLE_NAME');
const doc = DynamoDBDocumentClient.from(tracer.captureAWSv3Client(new DynamoDBClient({})));
const deps = {
  pending: new PendingOutbox(doc, tableName),
  publisher: new OutboxPublisher({
    eventBridge: tracer.captureAWSv3Client(new EventBridgeClient({})),
    eventBusName: requireEnv('EVENT_BUS_NAME'),
    source: process.env.EVENT_SOURCE || 'orders',
    limits: limitsFromEnv(),
  }),
  poisonQueue: new PoisonQueue({
    sqs: tracer.captureAWSv3Client(new SQSClient({})),
    queueUrl: requireEnv('POISON_QUEUE_URL'),
  }),
  doc,
  tableName,
  settings: {
    thresholdSeconds: positive('RECONCILER_THRESHOLD_SECONDS', 900),
    maxItemsPerRun: positive('RECONCILER_MAX_ITEMS_PER_RUN', 5000),
    pageSize: 100,
    retentionDays: positive('OUTBOX_RETENTION_DAYS', 7),
  },
  metrics,
  logger,
};

/** Scheduled (EventBridge rule, rate): the scheduled event's content is not used. */
export const handler = middy(
  (_event: unknown, context: Context): Promise<ReconcileReport> =>
    reconcile(deps, () => context.getRemainingTimeInMillis() > SAFETY_MARGIN_MS),
)
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
