import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { instrumented, traced } from '../runtime/powertools.js';
import { relaySettings } from '../runtime/settings.js';
import { buildRelayHandler } from './wiring.js';

/** Lambda entry point of the outbox relay: settings and clients once per container. */
export const handler = instrumented(
  buildRelayHandler({
    settings: relaySettings.fromEnv(),
    clients: {
      dynamoDb: traced(new DynamoDBClient({})),
      eventBridge: traced(new EventBridgeClient({})),
      sqs: traced(new SQSClient({})),
    },
  }),
);
