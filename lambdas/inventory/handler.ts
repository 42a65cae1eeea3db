import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { instrumented, traced } from 'dynamodb-outbox/runtime';
import { buildInventoryHandler, readInventorySettings } from './wiring';

/** EventBridge rule target (asynchronous invocation): one event per call. */
export const handler = instrumented(
  buildInventoryHandler({
    settings: readInventorySettings(),
    clients: { dynamoDb: traced(new DynamoDBClient({})) },
  }),
  { resetKeys: true },
);
