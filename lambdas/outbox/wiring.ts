import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { boolEnv, positiveIntEnv, requireEnv } from '../shared/env';
import { tracer } from '../shared/powertools';
import { limitsFromEnv } from './limits';
import { PoisonQueue } from './poison-queue';
import { OutboxPublisher } from './publisher';
import type { DeliveryTracking, RelayDeps } from './relay';

/**
 * The outbox publisher from EVENT_BUS_NAME, EVENT_SOURCE and the PutEvents limits: one definition
 * for the relay and the reconciler, so a republished event is the event the relay would publish.
 */
export const publisherFromEnv = (): OutboxPublisher =>
  new OutboxPublisher({
    eventBridge: tracer.captureAWSv3Client(new EventBridgeClient({})),
    eventBusName: requireEnv('EVENT_BUS_NAME'),
    source: process.env.EVENT_SOURCE || 'orders',
    limits: limitsFromEnv(),
  });

/** The relay's poison queue from POISON_QUEUE_URL (the reconciler parks on the same queue). */
export const poisonQueueFromEnv = (): PoisonQueue =>
  new PoisonQueue({
    sqs: tracer.captureAWSv3Client(new SQSClient({})),
    queueUrl: requireEnv('POISON_QUEUE_URL'),
  });

/**
 * The relay's dependencies from the function's environment, as the OutboxRelay construct sets
 * it: EVENT_BUS_NAME, EVENT_SOURCE, POISON_QUEUE_URL, OUTBOX_DELIVERY_TRACKING and, with
 * tracking, TABLE_NAME and OUTBOX_RETENTION_DAYS. Throws naming the first missing variable, so
 * a misconfigured function fails at cold start rather than at its first batch.
 */
export const relayDepsFromEnv = (): RelayDeps => {
  const trackingEnabled = boolEnv('OUTBOX_DELIVERY_TRACKING', true);
  const publisher = publisherFromEnv();
  const poisonQueue = poisonQueueFromEnv();
  const tracking: DeliveryTracking = trackingEnabled
    ? {
        enabled: true,
        doc: DynamoDBDocumentClient.from(tracer.captureAWSv3Client(new DynamoDBClient({}))),
        tableName: requireEnv('TABLE_NAME'),
        retentionDays: positiveIntEnv('OUTBOX_RETENTION_DAYS', 7),
      }
    : { enabled: false };
  return { publisher, poisonQueue, tracking };
};
