import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ReconcilerSettings, RelaySettings } from '../runtime/settings.js';
import { DeliveryReceipts } from './delivery-tracking.js';
import { listingFor } from './outbox-listing/listing-for.js';
import { type PendingSource, TimeOrderedOutbox } from './pending-outbox.js';
import { PoisonQueue } from './poison-queue.js';
import { OutboxPublisher } from './publisher.js';
import { type ReconcileReport, reconcile } from './reconciler.js';
import { StuckEvents } from './reconciler-retries.js';
import { createRelayHandler } from './relay.js';

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

/** One publisher definition for the relay and the reconciler: a republished event is the event the relay would publish. */
const publisherOf = (settings: PublishingSettings, clients: OutboxClients): OutboxPublisher =>
  new OutboxPublisher({
    eventBridge: clients.eventBridge,
    eventBusName: settings.eventBusName,
    source: settings.source,
    limits: { maxEntryBytes: settings.putEventsMaxBytes, maxCallBytes: settings.putEventsMaxBytes },
  });

const poisonQueueOf = (settings: PublishingSettings, clients: OutboxClients): PoisonQueue =>
  new PoisonQueue({ sqs: clients.sqs, queueUrl: settings.poisonQueueUrl });

const trackerOf = (
  settings: Pick<RelaySettings, 'tableName' | 'layout' | 'retentionDays'>,
  clients: OutboxClients,
): DeliveryReceipts =>
  new DeliveryReceipts(DynamoDBDocumentClient.from(clients.dynamoDb), {
    tableName: settings.tableName,
    layout: settings.layout,
    retentionDays: settings.retentionDays,
  });

/** Where the reconciler finds what is unpublished: the outbox listed by time, compared with the receipts. */
const pendingOf = (
  settings: ReconcilerSettings,
  clients: OutboxClients,
  receipts: DeliveryReceipts,
): PendingSource => {
  const doc = DynamoDBDocumentClient.from(clients.dynamoDb);
  const { tableName, layout, retentionDays } = settings;
  return new TimeOrderedOutbox(doc, {
    tableName,
    layout,
    items: listingFor(doc, tableName, layout),
    receipts,
    // Older items have expired: nothing before the retention can be pending.
    lookbackSeconds: retentionDays * 86_400,
  });
};

export type RelayHandler = ReturnType<typeof createRelayHandler>;

export const buildRelayHandler = (wiring: {
  settings: RelaySettings;
  clients: OutboxClients;
}): RelayHandler => {
  const { settings, clients } = wiring;
  return createRelayHandler({
    layout: settings.layout,
    publisher: publisherOf(settings, clients),
    poisonQueue: poisonQueueOf(settings, clients),
    tracker: settings.deliveryTracking ? trackerOf(settings, clients) : undefined,
  });
};

/** Items read and published per step: one Query page, ten PutEvents calls at most. */
const RECONCILER_PAGE_SIZE = 100;

export type ReconcilerHandler = (hasTimeLeft?: () => boolean) => Promise<ReconcileReport>;

export const buildReconcilerHandler = (wiring: {
  settings: ReconcilerSettings;
  clients: OutboxClients;
}): ReconcilerHandler => {
  const { settings, clients } = wiring;
  const tracker = trackerOf(settings, clients);
  const deps = {
    pending: pendingOf(settings, clients, tracker),
    stuck: new StuckEvents(DynamoDBDocumentClient.from(clients.dynamoDb), {
      tableName: settings.tableName,
      layout: settings.layout,
    }),
    publisher: publisherOf(settings, clients),
    poisonQueue: poisonQueueOf(settings, clients),
    tracker,
    settings: {
      thresholdSeconds: settings.thresholdSeconds,
      maxItemsPerRun: settings.maxItemsPerRun,
      pageSize: RECONCILER_PAGE_SIZE,
    },
  };
  return (hasTimeLeft) => reconcile(deps, hasTimeLeft);
};
