import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { instrumented, traced } from 'dynamodb-outbox/runtime';
import { buildDeadlineHandler, readDeadlineSettings } from './wiring';

/** Scheduled (EventBridge rule): rejects the orders that waited longer than the deadline. */
export const handler = instrumented(
  buildDeadlineHandler({
    settings: readDeadlineSettings(),
    clients: { dynamoDb: traced(new DynamoDBClient({})) },
  }),
  { resetKeys: true },
);
