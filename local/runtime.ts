import { join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { DeliveryResult } from '../lambdas/inventory/consumer';
import { inventorySubscription } from '../lambdas/inventory/subscription';
import { ordersRoutes } from '../lambdas/orders/http/routes';
import { ordersOutboxLayout } from '../lambdas/orders/table';
import { buildOrdersHandler } from '../lambdas/orders/wiring';
import { DEFAULT_PUT_EVENTS_LIMITS } from '../lambdas/outbox/limits';
import type { ReconcileReport } from '../lambdas/outbox/reconciler';
import type { ReconcilerSettings, RelaySettings, WriterSettings } from '../lambdas/outbox/settings';
import type { Subscription } from '../lambdas/outbox/subscription';
import { LocalQueue } from './clients';
import {
  deadLetterQueueOf,
  type LocalInventory,
  type LocalReconciler,
  localPoisonQueue,
  localSqsClient,
  sendDeadLetter,
  startLocalInventory,
  startLocalReconciler,
} from './consumers';
import { createOutboxTable, type DynamoDbLocal, startDynamoDbLocal, tableExists } from './dynamodb';
import {
  type AcceptedEvent,
  type EventTarget,
  type LocalEventBus,
  type LocalEventBusOptions,
  startLocalEventBus,
} from './event-bus';
import { type OfflineRelay, type RelayMappingOptions, startOfflineRelay } from './event-bus/offline-relay';
import { type LocalHttpApi, type ResponseInfo, startLocalHttpApi } from './http-server';
import { claimPort } from './ports';
import { type LocalSqs, startLocalSqs } from './sqs';
import { FileCheckpointStore } from './stream-poller';

/**
 * The whole service on one machine, with no AWS account: DynamoDB Local with the orders table
 * created from the deployed definition, the API handler behind a local HTTP API, the relay
 * handler behind a stream poller (the event source mapping) publishing to a local EventBridge
 * endpoint, and the subscriptions' targets behind that bus. Used by `npm start`, the integration
 * tests and the benchmarks.
 */
export interface LocalRuntimeOptions {
  /** HTTP port of the API; 0 picks a free one. @default 3000 */
  readonly apiPort?: number;
  /** DynamoDB Local's port; 0 picks a free one. @default 8000 */
  readonly dynamoDbPort?: number;
  /** Directory for DynamoDB Local's data. @default in memory */
  readonly dynamoDbDataPath?: string;
  /** @default 'orders' */
  readonly tableName?: string;
  /** Interface the API listens on. @default '127.0.0.1' */
  readonly host?: string;
  /** The outbox settings the stack would deploy. @default see LocalOutboxOptions */
  readonly outbox?: LocalOutboxOptions;
  /** Called after every API response. */
  readonly onApiResponse?: (info: ResponseInfo) => void;
  /** Local EventBridge port; 0 picks a free one. @default EVENTBRIDGE_PORT or 4010; a free one when apiPort is 0 */
  readonly eventBridgePort?: number;
  /** Run the relay (stream poller + relay handler). @default true */
  readonly relay?: boolean;
  /** Event source mapping settings over the OutboxRelay construct's defaults (RELAY_MAPPING_DEFAULTS). */
  readonly relayMapping?: RelayMappingOptions;
  /**
   * Rules on the local bus: each subscription (the objects the stack deploys) with the function
   * that handles its events. Consumers are added here.
   * @default none
   */
  readonly subscriptions?: ReadonlyArray<{
    readonly subscription: Subscription;
    readonly target: EventTarget;
  }>;
  /** Called for each event the bus accepts. */
  readonly onEventAccepted?: (accepted: AcceptedEvent) => void;
  /** More settings of the local bus: fault injection, its seed, limits, target retry delays. */
  readonly eventBusOptions?: Omit<LocalEventBusOptions, 'port' | 'host' | 'onAccepted'>;
  /**
   * Also run what the stack deploys around the relay: the inventory consumer on the bus, the
   * reconciler (with delivery tracking), and an SQS stand-in holding the relay's poison and
   * failure queues and the consumers' dead-letter queues, where `npm run outbox` finds them.
   * @default false
   */
  readonly consumers?: boolean;
  /** SQS stand-in port (with `consumers`); 0 picks a free one. @default SQS_PORT or 9324; a free one when apiPort is 0 */
  readonly sqsPort?: number;
  /** Called after each delivery the inventory consumer handled (with `consumers`). */
  readonly onInventoryResult?: (result: DeliveryResult) => void;
  /** Called after each reconciler run that found pending events (with `consumers`). */
  readonly onReconcile?: (report: ReconcileReport) => void;
}

/** What the orders stack configures of its outbox, with the construct's defaults. */
export interface LocalOutboxOptions {
  /** @default 'orders' */
  readonly source?: string;
  /** @default true */
  readonly deliveryTracking?: boolean;
  /** @default 7 */
  readonly retentionDays?: number;
  /** @default 1048576 (DEFAULT_PUT_EVENTS_LIMITS) */
  readonly putEventsMaxBytes?: number;
  /** @default 900 */
  readonly reconcilerThresholdSeconds?: number;
}

/** The functions' settings, as the outbox construct would write them. */
export interface LocalSettings {
  readonly writer: WriterSettings;
  readonly relay: RelaySettings;
  readonly reconciler: Omit<ReconcilerSettings, 'poisonQueueUrl'>;
}

export const localSettings = (tableName: string, options: LocalOutboxOptions = {}): LocalSettings => {
  const common = {
    tableName,
    layout: ordersOutboxLayout,
    retentionDays: options.retentionDays ?? 7,
  };
  const publishing = {
    ...common,
    eventBusName: 'orders',
    source: options.source ?? 'orders',
    poisonQueueUrl: LocalQueue.Poison,
    putEventsMaxBytes: options.putEventsMaxBytes ?? DEFAULT_PUT_EVENTS_LIMITS.maxCallBytes,
  };
  return {
    writer: { ...common, deliveryTracking: options.deliveryTracking ?? true },
    relay: { ...publishing, deliveryTracking: options.deliveryTracking ?? true },
    reconciler: {
      ...publishing,
      thresholdSeconds: options.reconcilerThresholdSeconds ?? 900,
      maxItemsPerRun: 5000,
    },
  };
};

export interface LocalRuntime {
  readonly apiUrl: string;
  readonly apiPort: number;
  readonly dynamoDb: DynamoDbLocal;
  readonly dynamoDbPort: number;
  readonly tableName: string;
  /** The settings the functions were built with. */
  readonly settings: LocalSettings;
  readonly eventBus: LocalEventBus;
  /** The running relay, or undefined with `relay: false`. */
  readonly relay: OfflineRelay | undefined;
  /** With `consumers`: the SQS stand-in, the inventory consumer and the reconciler (with delivery tracking). */
  readonly sqs: LocalSqs | undefined;
  readonly inventory: LocalInventory | undefined;
  readonly reconciler: LocalReconciler | undefined;
  /** Stop everything, last started first. Safe to call more than once. */
  stop(): Promise<void>;
}

/** Where the runtime's ports are claimed, for callers that start its parts themselves (benchmarks). */
export { claimPort };

export const startLocalRuntime = async (options: LocalRuntimeOptions = {}): Promise<LocalRuntime> => {
  const tableName = options.tableName ?? 'orders';
  // Components register how to stop them as they start; a failure half-way stops what did start.
  const stops: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const failures: unknown[] = [];
      for (const stopOne of stops.reverse()) {
        try {
          await stopOne();
        } catch (error) {
          failures.push(error);
        }
      }
      if (failures.length) throw new AggregateError(failures, 'Some local components did not stop cleanly');
    })();
    return stopping;
  };

  try {
    const apiPort = options.apiPort ?? 3000;
    if (apiPort !== 0) await claimPort(apiPort);
    const dynamoDbPort = await claimPort(options.dynamoDbPort ?? 8000);
    const dynamoDb = await startDynamoDbLocal(dynamoDbPort, options.dynamoDbDataPath);
    stops.push(() => dynamoDb.stop());
    if (!(await tableExists(dynamoDb.client, tableName)))
      await createOutboxTable(dynamoDb.client, tableName, ordersOutboxLayout);

    const settings = localSettings(tableName, options.outbox);
    const api: LocalHttpApi = await startLocalHttpApi({
      routes: ordersRoutes,
      handler: buildOrdersHandler({
        settings: { tableName, outbox: settings.writer },
        clients: { dynamoDb: dynamoDb.client },
      }),
      port: apiPort,
      ...(options.host === undefined ? {} : { host: options.host }),
      functionName: 'orders-api',
      ...(options.onApiResponse === undefined ? {} : { onResponse: options.onApiResponse }),
    });
    stops.push(() => api.close());

    let sqs: LocalSqs | undefined;
    let sqsClient: ReturnType<typeof localSqsClient> | undefined;
    if (options.consumers) {
      const sqsFromEnv = process.env.SQS_PORT ? Number(process.env.SQS_PORT) : undefined;
      const sqsPort = options.sqsPort ?? (apiPort === 0 ? 0 : (sqsFromEnv ?? 9324));
      if (sqsPort !== 0) await claimPort(sqsPort);
      const started = await startLocalSqs({
        port: sqsPort,
        ...(options.host === undefined ? {} : { host: options.host }),
        queues: [
          LocalQueue.Poison,
          LocalQueue.RelayFailure,
          deadLetterQueueOf(inventorySubscription(settings.relay.source)),
        ],
      });
      const client = localSqsClient(started);
      stops.push(async () => {
        client.destroy();
        await started.stop();
      });
      sqs = started;
      sqsClient = client;
    }

    const fromEnv = process.env.EVENTBRIDGE_PORT ? Number(process.env.EVENTBRIDGE_PORT) : undefined;
    const eventBus = await startLocalEventBus({
      ...options.eventBusOptions,
      ...(sqs && sqsClient
        ? {
            onDeadLetter: (deadLetter) => {
              options.eventBusOptions?.onDeadLetter?.(deadLetter);
              if (sqs && sqsClient)
                sendDeadLetter(sqs, sqsClient, deadLetter).catch((error: unknown) =>
                  console.error('Could not write the dead letter to its queue:', error),
                );
            },
          }
        : {}),
      port: options.eventBridgePort ?? (apiPort === 0 ? 0 : (fromEnv ?? 4010)),
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.onEventAccepted === undefined ? {} : { onAccepted: options.onEventAccepted }),
    });
    stops.push(() => eventBus.stop());
    for (const { subscription, target } of options.subscriptions ?? [])
      eventBus.subscribe(subscription, target);
    const inventory = options.consumers
      ? await startLocalInventory({
          dynamoDb,
          eventBus,
          eventSource: settings.relay.source,
          ...(options.onInventoryResult ? { onResult: options.onInventoryResult } : {}),
        })
      : undefined;
    const poisonQueue = sqs && sqsClient ? localPoisonQueue(sqs, sqsClient) : undefined;

    let relay: OfflineRelay | undefined;
    if (options.relay ?? true) {
      const started = await startOfflineRelay({
        dynamoDb,
        eventBridgeEndpoint: eventBus.endpoint,
        settings: settings.relay,
        ...(options.relayMapping === undefined ? {} : { mapping: options.relayMapping }),
        ...(poisonQueue ? { poisonQueue } : {}),
        ...(sqs && sqsClient
          ? {
              onFailure: async (failure) => {
                await sqsClient?.send(
                  new SendMessageCommand({
                    QueueUrl: sqs?.queueUrl(LocalQueue.RelayFailure),
                    MessageBody: JSON.stringify(failure),
                  }),
                );
              },
            }
          : {}),
        // With DynamoDB Local on disk, the mapping's position survives restarts too.
        ...(options.dynamoDbDataPath
          ? {
              checkpoints: new FileCheckpointStore(join(options.dynamoDbDataPath, 'stream-checkpoints.json')),
            }
          : {}),
      });
      // Stopped before the bus and DynamoDB Local it reads from and writes to.
      stops.push(() => started.stop());
      relay = started;
    }

    let reconciler: LocalReconciler | undefined;
    if (sqs && poisonQueue && settings.relay.deliveryTracking) {
      const started = startLocalReconciler({
        dynamoDb,
        eventBridgeEndpoint: eventBus.endpoint,
        sqs,
        settings: { ...settings.reconciler, poisonQueueUrl: sqs.queueUrl(LocalQueue.Poison) },
        ...(options.onReconcile ? { onReport: options.onReconcile } : {}),
      });
      stops.push(() => started.stop());
      reconciler = started;
    }

    return {
      apiUrl: api.url,
      apiPort: api.port,
      dynamoDb,
      dynamoDbPort,
      tableName,
      settings,
      eventBus,
      relay,
      sqs,
      inventory,
      reconciler,
      stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
};

/** With an on-disk DynamoDB Local the table survives restarts. */
