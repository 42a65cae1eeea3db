/*
 * The consumer side of the offline runtime: the inventory consumer behind the local bus, the
 * reconciler on a timer, and the queues on the local SQS stand-in, wired from the same code and
 * subscription objects as the stack.
 */

import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DeliveryResult } from '../lambdas/inventory/consumer';
import { DynamoDbReservationStore } from '../lambdas/inventory/reservation-store';
import { inventorySubscription } from '../lambdas/inventory/subscription';
import { buildInventoryHandler } from '../lambdas/inventory/wiring';
import { PoisonQueue } from '../lambdas/outbox/poison-queue';
import { loggerFor } from '../lambdas/outbox/powertools';
import type { ReconcileReport } from '../lambdas/outbox/reconciler';
import { OutboxServiceName } from '../lambdas/outbox/service-names';
import type { ReconcilerSettings } from '../lambdas/outbox/settings';
import type { Subscription } from '../lambdas/outbox/subscription';
import { buildReconcilerHandler } from '../lambdas/outbox/wiring';
import { LocalQueue, localClientConfig } from './clients';
import type { DynamoDbLocal } from './dynamodb';
import type { BusEvent, DeadLetter, LocalEventBus } from './event-bus';
import { createInventoryTables } from './inventory-tables';
import type { LocalSqs } from './sqs';

/** The dead-letter queue of a subscription on the local SQS stand-in. */
export const deadLetterQueueOf = (subscription: Pick<Subscription, 'name'>): string =>
  `${subscription.name}-dlq`;

export const localSqsClient = (sqs: LocalSqs): SQSClient => new SQSClient(localClientConfig(sqs.endpoint));

/** The relay's poison queue on the local SQS stand-in: what the deployed relay has on AWS. */
export const localPoisonQueue = (sqs: LocalSqs, client: SQSClient): PoisonQueue =>
  new PoisonQueue({ sqs: client, queueUrl: sqs.createQueue(LocalQueue.Poison) });

/** Write a dead letter of the local bus to its subscription's queue, as EventBridge would. */
export const sendDeadLetter = async (
  sqs: LocalSqs,
  client: SQSClient,
  deadLetter: DeadLetter,
): Promise<void> => {
  await client.send(
    new SendMessageCommand({
      QueueUrl: sqs.createQueue(deadLetterQueueOf({ name: deadLetter.subscription })),
      MessageBody: JSON.stringify(deadLetter.event),
    }),
  );
};

export interface LocalInventoryOptions {
  readonly dynamoDb: DynamoDbLocal;
  readonly eventBus: LocalEventBus;
  /** The `source` the relay publishes with. @default 'orders' */
  readonly eventSource?: string;
  /** @default 'inventory' and 'inventory-idempotency' */
  readonly tables?: { readonly inventory: string; readonly idempotency: string };
  /** @default 3 days, the deployed window for default settings */
  readonly idempotencyTtlSeconds?: number;
  /** Called after each delivery the consumer handled. */
  readonly onResult?: (result: DeliveryResult) => void;
}

export interface LocalInventory {
  /** Inventory's table, for inspection. */
  readonly store: DynamoDbReservationStore;
  readonly tables: { readonly inventory: string; readonly idempotency: string };
}

/** Create inventory's tables and subscribe its consumer (the deployed composition point) to the local bus. */
export const startLocalInventory = async (options: LocalInventoryOptions): Promise<LocalInventory> => {
  const tables = options.tables ?? { inventory: 'inventory', idempotency: 'inventory-idempotency' };
  await createInventoryTables(options.dynamoDb.client, tables);
  const subscription = inventorySubscription(options.eventSource ?? 'orders');
  const consume = buildInventoryHandler({
    settings: {
      inventoryTableName: tables.inventory,
      consumer: {
        idempotencyTableName: tables.idempotency,
        idempotencyTtlSeconds: options.idempotencyTtlSeconds ?? 3 * 24 * 60 * 60,
      },
    },
    clients: { dynamoDb: options.dynamoDb.client },
    // A consumer's service is its subscription's name, as the OutboxConsumer construct sets it.
    logger: loggerFor(subscription.name),
  });
  options.eventBus.subscribe(subscription, async (event: BusEvent) => {
    const result = await consume(event);
    options.onResult?.(result);
  });
  const store = new DynamoDbReservationStore(
    DynamoDBDocumentClient.from(options.dynamoDb.client),
    tables.inventory,
  );
  return { store, tables };
};

export interface LocalReconcilerOptions {
  readonly dynamoDb: DynamoDbLocal;
  readonly eventBridgeEndpoint: string;
  readonly sqs: LocalSqs;
  /** The reconciler's settings, as its environment contract carries them. */
  readonly settings: ReconcilerSettings;
  /** @default 60000 */
  readonly intervalMs?: number;
  /** Called after each run that found something. */
  readonly onReport?: (report: ReconcileReport) => void;
}

export interface LocalReconciler {
  /** Run once now (also what the timer does). */
  runOnce(): Promise<ReconcileReport>;
  stop(): Promise<void>;
}

/** The reconciler (the deployed composition point) on a timer. */
export const startLocalReconciler = (options: LocalReconcilerOptions): LocalReconciler => {
  const eventBridge = new EventBridgeClient(localClientConfig(options.eventBridgeEndpoint));
  const sqs = localSqsClient(options.sqs);
  const reconcile = buildReconcilerHandler({
    settings: options.settings,
    clients: { dynamoDb: options.dynamoDb.client, eventBridge, sqs },
    // Its log lines go where the deployed function's go, under its service name: a parked event says why.
    logger: loggerFor(OutboxServiceName.Reconciler),
  });
  let running: Promise<ReconcileReport> | undefined;
  const runOnce = (): Promise<ReconcileReport> => {
    // One run at a time, as the deployed schedule's timeout < interval guarantees.
    running ??= reconcile().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(() => {
    runOnce().then(
      (report) => {
        if (report.found > 0) options.onReport?.(report);
      },
      (error: unknown) => console.error('reconciler run failed:', error),
    );
  }, options.intervalMs ?? 60_000);
  timer.unref();
  return {
    runOnce,
    stop: async () => {
      clearInterval(timer);
      await running?.catch(() => undefined);
      eventBridge.destroy();
      sqs.destroy();
    },
  };
};
