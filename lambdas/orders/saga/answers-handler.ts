import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { instrumented, traced } from 'dynamodb-outbox/runtime';
import { buildAnswersHandler, readAnswersSettings } from './wiring';

/** EventBridge rule target (asynchronous invocation): one of inventory's answers per call. */
export const handler = instrumented(
  buildAnswersHandler({
    settings: readAnswersSettings(),
    clients: { dynamoDb: traced(new DynamoDBClient({})) },
  }),
  { resetKeys: true },
);
