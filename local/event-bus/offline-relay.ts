import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbDeliveryTracker } from '../../lambdas/outbox/delivery-tracking';
import { relayFilterPattern } from '../../lambdas/outbox/layout';
import type { PoisonQueue, PoisonRecord, PoisonSendResult } from '../../lambdas/outbox/poison-queue';
import { loggerFor } from '../../lambdas/outbox/powertools';
import { OutboxPublisher } from '../../lambdas/outbox/publisher';
import { createRelayHandler } from '../../lambdas/outbox/relay';
import { OutboxServiceName } from '../../lambdas/outbox/service-names';
import type { RelaySettings } from '../../lambdas/outbox/settings';
import { LOCAL_REGION, localClientConfig } from '../clients';
import type { DynamoDbLocal } from '../dynamodb';
import {
  type CheckpointStore,
  InMemoryCheckpointStore,
  latestStreamArn,
  type OnFailureDestination,
  type PollerLogger,
  type StreamFailureRecord,
  StreamPoller,
  type StreamPollerOptions,
} from '../stream-poller';

/**
 * The relay offline: the real relay handler (createRelayHandler, the same code the Lambda runs)
 * behind a StreamPoller on the table's DynamoDB Local stream, publishing with the real
 * EventBridge client to the local bus. The poison queue and the mapping's on-failure
 * destination are in-memory stand-ins for the two SQS queues, inspectable by tests.
 */

/** Event source mapping settings, as the OutboxRelay construct deploys them by default. */
export const RELAY_MAPPING_DEFAULTS = {
  startingPosition: 'TRIM_HORIZON',
  batchSize: 100,
  maximumBatchingWindowMs: 0,
  reportBatchItemFailures: true,
  bisectBatchOnFunctionError: true,
  maximumRetryAttempts: 10,
  maximumRecordAgeSeconds: 6 * 60 * 60,
} as const satisfies Partial<StreamPollerOptions>;

export type RelayMappingOptions = Partial<
  Omit<
    StreamPollerOptions,
    'client' | 'streamArn' | 'handler' | 'filterPatterns' | 'checkpoints' | 'onFailure'
  >
>;

export interface OfflineRelayOptions {
  readonly dynamoDb: DynamoDbLocal;
  /** The local EventBridge endpoint, e.g. http://127.0.0.1:4010. */
  readonly eventBridgeEndpoint: string;
  /** The relay's settings, as its environment contract carries them (`relaySettings`). */
  readonly settings: RelaySettings;
  /** Overrides of RELAY_MAPPING_DEFAULTS. */
  readonly mapping?: RelayMappingOptions;
  /** Where the mapping keeps its position. @default in memory */
  readonly checkpoints?: CheckpointStore;
  /**
   * The relay's poison queue, e.g. a PoisonQueue on a local SQS endpoint.
   * @default an in-memory stand-in (`poisonRecords`)
   */
  readonly poisonQueue?: Pick<PoisonQueue, 'send'>;
  /**
   * The mapping's on-failure destination; once it accepts a record, the record is also kept in `streamFailures`.
   * @default none beyond `streamFailures`
   */
  readonly onFailure?: OnFailureDestination;
  readonly logger?: PollerLogger;
}

export interface OfflineRelay {
  /** The poller now running; replaced by `restart()`. */
  readonly poller: StreamPoller;
  readonly streamArn: string;
  /** What the relay parked on the in-memory poison queue (empty when `poisonQueue` is given). */
  readonly poisonRecords: readonly PoisonRecord[];
  /** Invocation records the mapping sent to its on-failure destination (an SQS queue on AWS). */
  readonly streamFailures: readonly StreamFailureRecord[];
  /**
   * Stop the poller and start a new one, which resumes from the saved checkpoints. With
   * `crash: true` the batch in flight is not checkpointed, as when a relay dies mid-batch, so its
   * records are delivered again.
   */
  restart(options?: { readonly crash?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export const startOfflineRelay = async (options: OfflineRelayOptions): Promise<OfflineRelay> => {
  const { settings } = options;
  const region = process.env.AWS_REGION || LOCAL_REGION;

  const eventBridge = new EventBridgeClient(localClientConfig(options.eventBridgeEndpoint, region));
  const relayLogger = loggerFor(OutboxServiceName.Relay);
  const publisher = new OutboxPublisher({
    eventBridge,
    eventBusName: settings.eventBusName,
    source: settings.source,
    limits: { maxEntryBytes: settings.putEventsMaxBytes, maxCallBytes: settings.putEventsMaxBytes },
    logger: relayLogger,
  });
  const poisonRecords: PoisonRecord[] = [];
  const poisonQueue = options.poisonQueue ?? {
    send: async (records: readonly PoisonRecord[]): Promise<PoisonSendResult> => {
      poisonRecords.push(...records);
      return { sent: [...records], failed: [] };
    },
  };
  const handler = createRelayHandler({
    layout: settings.layout,
    publisher,
    poisonQueue,
    logger: relayLogger,
    tracker: settings.deliveryTracking
      ? new DynamoDbDeliveryTracker(DynamoDBDocumentClient.from(options.dynamoDb.client), settings)
      : undefined,
  });

  const streamArn = await latestStreamArn(options.dynamoDb.client, settings.tableName);
  const streams = new DynamoDBStreamsClient(localClientConfig(options.dynamoDb.endpoint, region));
  const checkpoints = options.checkpoints ?? new InMemoryCheckpointStore();
  const streamFailures: StreamFailureRecord[] = [];
  const newPoller = (): StreamPoller =>
    new StreamPoller({
      ...RELAY_MAPPING_DEFAULTS,
      ...options.mapping,
      client: streams,
      streamArn,
      handler,
      filterPatterns: [relayFilterPattern(settings.layout)],
      checkpoints,
      onFailure: async (failure, records) => {
        await options.onFailure?.(failure, records);
        streamFailures.push(failure);
      },
      ...(options.logger ? { logger: options.logger } : {}),
    });

  let poller = newPoller();
  poller.start();
  let stopped = false;
  return {
    get poller() {
      return poller;
    },
    streamArn,
    poisonRecords,
    streamFailures,
    restart: async ({ crash = false } = {}) => {
      await (crash ? poller.crash() : poller.stop());
      if (stopped) return;
      poller = newPoller();
      poller.start();
    },
    stop: async () => {
      stopped = true;
      await poller.stop();
      streams.destroy();
      eventBridge.destroy();
    },
  };
};
