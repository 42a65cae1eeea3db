import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { poisonQueueFromEnv, publisherFromEnv } from '../outbox/wiring';
import { type EnvMap, positiveIntEnv, requireEnv } from '../shared/env';
import { logger, metrics, tracer } from '../shared/powertools';
import { PendingOutbox } from './pending-outbox';
import type { ReconcilerDeps, ReconcilerSettings } from './reconcile';

/** Items read and published per step: one Query page, ten PutEvents calls at most. */
const PAGE_SIZE = 100;

/**
 * The reconciler's settings as the OutboxReconciler construct passes them (RECONCILER_THRESHOLD_SECONDS,
 * RECONCILER_MAX_ITEMS_PER_RUN, OUTBOX_RETENTION_DAYS); the offline runtime reads the same
 * variables through this function.
 */
export const reconcilerSettingsFromEnv = (env: EnvMap = process.env): ReconcilerSettings => ({
  thresholdSeconds: positiveIntEnv('RECONCILER_THRESHOLD_SECONDS', 900, env),
  maxItemsPerRun: positiveIntEnv('RECONCILER_MAX_ITEMS_PER_RUN', 5000, env),
  pageSize: PAGE_SIZE,
  retentionDays: positiveIntEnv('OUTBOX_RETENTION_DAYS', 7, env),
});

/**
 * The reconciler's dependencies from the function's environment: TABLE_NAME, and the relay's
 * EVENT_BUS_NAME, EVENT_SOURCE and POISON_QUEUE_URL. Throws naming the first missing variable.
 */
export const reconcilerDepsFromEnv = (): ReconcilerDeps => {
  const tableName = requireEnv('TABLE_NAME');
  const doc = DynamoDBDocumentClient.from(tracer.captureAWSv3Client(new DynamoDBClient({})));
  return {
    pending: new PendingOutbox(doc, tableName),
    publisher: publisherFromEnv(),
    poisonQueue: poisonQueueFromEnv(),
    doc,
    tableName,
    settings: reconcilerSettingsFromEnv(),
    metrics,
    logger,
  };
};
