import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import middy from '@middy/core';
import { intEnv, requireEnv } from '../shared/env';
import { logger, metrics, tracer } from '../shared/powertools';
import { createInventoryConsumer } from './consumer';
import { DynamoDbReservationStore } from './reservation-store';

/** Computed by the stack from the redelivery horizon; no default, so a wrong wiring fails at cold start. */
const idempotencyTtlSeconds = intEnv('IDEMPOTENCY_TTL_SECONDS', 0);
if (idempotencyTtlSeconds <= 0)
  throw new Error('IDEMPOTENCY_TTL_SECONDS must be a positive number of seconds');

const client = tracer.captureAWSv3Client(new DynamoDBClient({}));

const consumer = createInventoryConsumer({
  store: new DynamoDbReservationStore(
    DynamoDBDocumentClient.from(client),
    requireEnv('INVENTORY_TABLE_NAME'),
  ),
  persistenceStore: new DynamoDBPersistenceLayer({
    tableName: requireEnv('IDEMPOTENCY_TABLE_NAME'),
    awsSdkV3Client: client,
  }),
  idempotencyTtlSeconds,
});

/** EventBridge rule target (asynchronous invocation): one event per call. */
export const handler = middy(consumer)
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
