import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { traced } from 'dynamodb-outbox/runtime';
import { readOrdersSettings } from './config';
import { buildOrdersHandler } from './wiring';

/** Lambda entry point of the orders API: settings and clients once per container. */
export const handler = buildOrdersHandler({
  settings: readOrdersSettings(process.env),
  clients: { dynamoDb: traced(new DynamoDBClient({})) },
});
