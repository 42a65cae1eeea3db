import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  localClientConfig,
} from '../packages/dynamodb-outbox/src/local/clients';

/**
 * DynamoDB Local keeps one database per access key and region: every client of a run, the
 * handlers' own included (through the environment), must use the offline runtime's pair, or it
 * sees none of the tables.
 */
export { LOCAL_CREDENTIALS, LOCAL_REGION };

export const localStreamsClient = (endpoint: string): DynamoDBStreamsClient =>
  new DynamoDBStreamsClient(localClientConfig(endpoint));

export const localEventBridgeClient = (endpoint: string): EventBridgeClient =>
  new EventBridgeClient(localClientConfig(endpoint));
