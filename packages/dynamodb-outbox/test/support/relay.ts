import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { buildRelayHandler } from '../../src/engine/wiring';
import { localClientConfig } from '../../src/local/clients';
import type { DynamoDbLocal } from '../../src/local/dynamodb';
import { latestStreamArn, StreamPoller, type StreamPollerOptions } from '../../src/local/stream-poller';
import { DEFAULT_PUT_EVENTS_LIMITS } from '../../src/runtime/limits';
import type { RelaySettings } from '../../src/runtime/settings';
import { ordersOutboxLayout } from './sample-table';

/** Relay settings for a test orders table, as the construct writes them by default. */
export const testRelaySettings = (
  tableName: string,
  overrides: Partial<Pick<RelaySettings, 'deliveryTracking' | 'retentionDays' | 'source'>> = {},
): RelaySettings => ({
  eventBusName: 'orders',
  source: 'orders',
  // Nothing listens there: a test that parks poison sees the send fail.
  poisonQueueUrl: 'http://127.0.0.1:9/000000000000/no-poison-queue',
  putEventsMaxBytes: DEFAULT_PUT_EVENTS_LIMITS.maxCallBytes,
  tableName,
  layout: ordersOutboxLayout,
  deliveryTracking: true,
  retentionDays: 7,
  ...overrides,
});

export interface TestRelay {
  readonly poller: StreamPoller;
  stop(): Promise<void>;
}

/** The relay's composition point behind a stream poller on the table, publishing to `eventBridgeEndpoint`. */
export const startTestRelay = async (options: {
  readonly dynamoDb: DynamoDbLocal;
  readonly eventBridgeEndpoint: string;
  readonly settings: RelaySettings;
  readonly poller?: Partial<Omit<StreamPollerOptions, 'client' | 'streamArn' | 'handler'>>;
}): Promise<TestRelay> => {
  const eventBridge = new EventBridgeClient(localClientConfig(options.eventBridgeEndpoint));
  const sqs = new SQSClient(localClientConfig(options.settings.poisonQueueUrl));
  const streams = new DynamoDBStreamsClient(localClientConfig(options.dynamoDb.endpoint));
  const handler = buildRelayHandler({
    settings: options.settings,
    clients: { dynamoDb: options.dynamoDb.client, eventBridge, sqs },
  });
  const poller = new StreamPoller({
    reportBatchItemFailures: true,
    bisectBatchOnFunctionError: true,
    ...options.poller,
    client: streams,
    streamArn: await latestStreamArn(options.dynamoDb.client, options.settings.tableName),
    handler,
  });
  poller.start();
  return {
    poller,
    stop: async () => {
      await poller.stop();
      for (const client of [eventBridge, sqs, streams]) client.destroy();
    },
  };
};
