import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { tracer } from '../shared/powertools';
import { readOrdersConfig } from './config';
import { buildOrdersHandler } from './wiring';

/** Lambda entry point of the orders API: configuration and clients once per container. */
export const handler = buildOrdersHandler({
  config: readOrdersConfig(process.env),
  dynamoDb: tracer.captureAWSv3Client(new DynamoDBClient({})),
});
