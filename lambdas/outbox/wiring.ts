import type { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbDeliveryTracker } from './delivery-tracking';
import { PendingOutbox } from './pending-outbox';
import { PoisonQueue } from './poison-queue';
import { OutboxPublisher } from './publisher';
import { type ReconcileReport, reconcile } from './reconciler';
import { createRelayHandler } from './relay';
import type { ReconcilerSettings, RelaySettings } from './settings';

/**
 * The one composition point of each outbox function: settings from its environment contract and
 * clients made once per container. The Lambda entry and the offline runtime both call these.
 */
export interface OutboxClients {
  readonly dynamoDb: DynamoDBClient;
  readonly eventBridge: EventBridgeClient;
  readonly sqs: SQSClient;
}

type PublishingSettings = Pick<
  RelaySettings,
  'eventBusName' | 'source' | 'poisonQueueUrl' | 'putEventsMaxBytes'
>;

/**
 * What each build…Handler takes besides its settings and clients. `logger` defaults to the
 * container's logger, named by POWERTOOLS_SERVICE_NAME; code that runs several functions in one
 * process (the offline runtime) passes `loggerFor(OutboxServiceName.…)` so that each function
 * logs under its own service.
 */
export interface OutboxWiringOptions {
  readonly logger?: Logger;
}

/** One publisher definition for the relay and the reconciler: a republished event is the event the relay would publish. */
const publisherOf = (
  settings: PublishingSettings,
  clients: OutboxClients,
  logger: Logger | undefined,
): OutboxPublisher =>
  new OutboxPublisher({
    eventBridge: clients.eventBridge,
    eventBusName: settings.eventBusName,
    source: settings.source,
    limits: { maxEntryBytes: settings.putEventsMaxBytes, maxCallBytes: settings.putEventsMaxBytes },
    ...(logger === undefined ? {} : { logger }),
  });

const poisonQueueOf = (settings: PublishingSettings, clients: OutboxClients): PoisonQueue =>
  new PoisonQueue({ sqs: clients.sqs, queueUrl: settings.poisonQueueUrl });

const trackerOf = (
  settings: Pick<RelaySettings, 'tableName' | 'layout' | 'retentionDays'>,
  clients: OutboxClients,
): DynamoDbDeliveryTracker =>
  new DynamoDbDeliveryTracker(DynamoDBDocumentClient.from(clients.dynamoDb), {
    tableName: settings.tableName,
    layout: settings.layout,
    retentionDays: settings.retentionDays,
  });

export type RelayHandler = ReturnType<typeof createRelayHandler>;

export const buildRelayHandler = (
  wiring: { settings: RelaySettings; clients: OutboxClients } & OutboxWiringOptions,
): RelayHandler => {
  const { settings, clients, logger } = wiring;
  return createRelayHandler({
    layout: settings.layout,
    publisher: publisherOf(settings, clients, logger),
    poisonQueue: poisonQueueOf(settings, clients),
    tracker: settings.deliveryTracking ? trackerOf(settings, clients) : undefined,
    ...(logger === undefined ? {} : { logger }),
  });
};

/** Items read and published per step: one Query page, ten PutEvents calls at most. */
const RECONCILER_PAGE_SIZE = 100;

export type ReconcilerHandler = (hasTimeLeft?: () => boolean) => Promise<ReconcileReport>;

export const buildReconcilerHandler = (
  wiring: { settings: ReconcilerSettings; clients: OutboxClients } & OutboxWiringOptions,
): ReconcilerHandler => {
  const { settings, clients, logger } = wiring;
  const deps = {
    pending: new PendingOutbox(
      DynamoDBDocumentClient.from(clients.dynamoDb),
      settings.tableName,
      settings.layout,
    ),
    publisher: publisherOf(settings, clients, logger),
    poisonQueue: poisonQueueOf(settings, clients),
    tracker: trackerOf(settings, clients),
    ...(logger === undefined ? {} : { logger }),
    settings: {
      thresholdSeconds: settings.thresholdSeconds,
      maxItemsPerRun: settings.maxItemsPerRun,
      pageSize: RECONCILER_PAGE_SIZE,
    },
  };
  return (hasTimeLeft) => reconcile(deps, hasTimeLeft);
};
