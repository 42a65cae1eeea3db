import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { buildRelayHandler, type RelayHandler } from '../../src/engine/wiring';
import { localClientConfig } from '../../src/local/clients';
import type { DynamoDbLocal } from '../../src/local/dynamodb';
import { type LocalEventBus, type LocalEventBusOptions, startLocalEventBus } from '../../src/local/event-bus';
import { directoryFailureDestination, listDirectoryObjects } from '../../src/local/failure-destination';
import { type LocalSqs, startLocalSqs } from '../../src/local/sqs';
import {
  InMemoryCheckpointStore,
  latestStreamArn,
  StreamPoller,
  type StreamPollerOptions,
} from '../../src/local/stream-poller';
import type { EventEnvelope } from '../../src/runtime/envelope';
import { relayFilterPattern } from '../../src/runtime/layout';
import { DEFAULT_PUT_EVENTS_LIMITS } from '../../src/runtime/limits';
import type { RelaySettings } from '../../src/runtime/settings';
import { OutboxWriter } from '../../src/runtime/writer';
import { createTestOrdersTable, startTestDynamoDb } from './dynamodb-local';
import { ordersOutboxLayout } from './sample-table';

/**
 * The relay from its building blocks, as the OutboxRelay construct deploys it: DynamoDB Local's
 * stream behind a StreamPoller with the construct's mapping settings, the relay handler from its
 * one composition point, a local EventBridge endpoint (fault injection), an SQS stand-in for the
 * poison queue and a directory for the S3 on-failure destination.
 */
export interface RelayRig {
  readonly db: DynamoDbLocal;
  readonly bus: LocalEventBus;
  readonly sqs: LocalSqs;
  readonly tableName: string;
  readonly settings: RelaySettings;
  readonly failureDir: string;
  /** The relay's EventBridge client (one attempt per call). */
  readonly eventBridge: EventBridgeClient;
  readonly poller: StreamPoller;
  /** Write `count` events, each in its own transaction, `concurrency` at a time; returns their ids. */
  write(
    count: number,
    options?: { concurrency?: number; make?: (n: number) => Partial<EventEnvelope> },
  ): Promise<string[]>;
  /** Failure objects in the S3 stand-in. */
  failureObjects(): Promise<string[]>;
  poisonMessages(): readonly { readonly body: string }[];
  /**
   * Crash the relay as a Lambda container dies mid-batch: the batch in flight finishes but is not
   * checkpointed; a new poller and a new handler (a fresh container: empty memory) take over.
   */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

export type RelayHandlerFactory = (
  settings: RelaySettings,
  clients: Parameters<typeof buildRelayHandler>[0]['clients'],
) => RelayHandler;

/** The construct's mapping: bisect, partial batch responses, retries until the record age. */
export const CONSTRUCT_MAPPING = {
  startingPosition: 'TRIM_HORIZON',
  batchSize: 100,
  reportBatchItemFailures: true,
  bisectBatchOnFunctionError: true,
  maximumRetryAttempts: -1,
} as const satisfies Partial<StreamPollerOptions>;

const silent = { warn: () => undefined, error: () => undefined };

export const startRelayRig = async (options: {
  readonly bus?: Omit<LocalEventBusOptions, 'port'>;
  /** Poller settings over CONSTRUCT_MAPPING; timings scaled down for a test. */
  readonly mapping: Partial<Omit<StreamPollerOptions, 'client' | 'streamArn' | 'handler'>>;
  /** Build the handler; the default is the Lambda's own composition point. */
  readonly handler?: (
    settings: RelaySettings,
    clients: Parameters<typeof buildRelayHandler>[0]['clients'],
  ) => RelayHandler;
}): Promise<RelayRig> => {
  const db = await startTestDynamoDb();
  const bus = await startLocalEventBus({ port: 0, ...options.bus });
  const sqs = await startLocalSqs({ port: 0 });
  const tableName = await createTestOrdersTable(db);
  const failureDir = await mkdtemp(join(tmpdir(), 'relay-failures-'));
  const settings: RelaySettings = {
    eventBusName: 'orders',
    source: 'orders',
    poisonQueueUrl: sqs.createQueue('poison'),
    putEventsMaxBytes: DEFAULT_PUT_EVENTS_LIMITS.maxCallBytes,
    tableName,
    layout: ordersOutboxLayout,
    deliveryTracking: true,
    retentionDays: 7,
  };
  const clients = {
    dynamoDb: db.client,
    // One attempt per call: the relay's own retries and the mapping's are what is under test.
    eventBridge: new EventBridgeClient({ ...localClientConfig(bus.endpoint), maxAttempts: 1 }),
    sqs: new SQSClient(localClientConfig(sqs.endpoint)),
  };
  const build = () =>
    (options.handler ?? ((s, c) => buildRelayHandler({ settings: s, clients: c })))(settings, clients);
  const streams = new DynamoDBStreamsClient(localClientConfig(db.endpoint));
  const streamArn = await latestStreamArn(db.client, tableName);
  const checkpoints = new InMemoryCheckpointStore();
  const newPoller = () =>
    new StreamPoller({
      ...CONSTRUCT_MAPPING,
      logger: silent,
      ...options.mapping,
      client: streams,
      streamArn,
      handler: build(),
      filterPatterns: [relayFilterPattern(settings.layout)],
      checkpoints,
      onFailure: directoryFailureDestination(failureDir),
    });
  let poller = newPoller();
  poller.start();

  const doc = DynamoDBDocumentClient.from(db.client);
  const writer = new OutboxWriter({
    tableName,
    layout: settings.layout,
    deliveryTracking: true,
    retentionDays: 7,
  });
  let written = 0;

  return {
    db,
    bus,
    sqs,
    tableName,
    settings,
    failureDir,
    eventBridge: clients.eventBridge,
    get poller() {
      return poller;
    },
    write: async (count, { concurrency = 8, make } = {}) => {
      const ids: string[] = [];
      let next = 0;
      const base = written;
      written += count;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < count) {
            const n = base + next++;
            const orderId = `order-${String(n).padStart(6, '0')}`;
            const event: EventEnvelope = {
              eventId: `event-${String(n).padStart(6, '0')}`,
              eventType: 'OrderPlaced',
              aggregateType: 'Order',
              aggregateId: orderId,
              sequence: 1,
              occurredAt: new Date().toISOString(),
              schemaVersion: 1,
              payload: { orderId },
              ...make?.(n),
            };
            await doc.send(
              new TransactWriteCommand({
                TransactItems: writer.puts([event], { aggregateKey: `ORDER#${orderId}` }),
              }),
            );
            ids.push(event.eventId);
          }
        }),
      );
      return ids;
    },
    failureObjects: () => listDirectoryObjects(failureDir, 'aws/lambda/'),
    poisonMessages: () => sqs.messages('poison'),
    crash: async () => {
      await poller.crash();
      poller = newPoller();
      poller.start();
    },
    stop: async () => {
      await poller.stop();
      streams.destroy();
      clients.eventBridge.destroy();
      clients.sqs.destroy();
      await bus.stop();
      await sqs.stop();
      await db.stop();
      await rm(failureDir, { recursive: true, force: true });
    },
  };
};
