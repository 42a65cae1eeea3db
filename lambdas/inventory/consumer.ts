import type { Logger } from '@aws-lambda-powertools/logger';
import {
  type ConsumerResult,
  createOutboxConsumer,
  logger,
  type OutboxConsumerOptions,
} from 'dynamodb-outbox/runtime';
import { applyInventoryEvent, type EventResult } from './apply-event';
import { toInventoryEvent } from './event-schema';
import type { ReservationStore } from './reservation-store';

/** The store, and the outbox consumer's own options (idempotency settings, persistence, client). */
export interface InventoryConsumerDeps
  extends Omit<OutboxConsumerOptions<EventResult>, 'name' | 'handle' | 'logger'> {
  readonly store: ReservationStore;
  /** @default the container's logger, named by POWERTOOLS_SERVICE_NAME */
  readonly logger?: Logger;
}

/** The outcome of one delivery; `duplicate` when it was a redelivery of a processed event. */
export type DeliveryResult = ConsumerResult<EventResult>;

/** Idempotency records are keyed by this name: renaming or redeploying the function keeps its memory. */
export const IDEMPOTENCY_KEY_PREFIX = 'inventory';

/**
 * The inventory consumer: the outbox's idempotent consumer (envelope validation, once per
 * eventId) around inventory's own payload validation and sequence guard (`applyInventoryEvent`).
 */
export const createInventoryConsumer = (deps: InventoryConsumerDeps) => {
  const { store, logger: log = logger, ...options } = deps;
  const consume = createOutboxConsumer<EventResult>({
    ...options,
    name: IDEMPOTENCY_KEY_PREFIX,
    logger: log,
    handle: (delivery) => applyInventoryEvent(store, toInventoryEvent(delivery)),
  });
  return async (input: unknown, context?: Parameters<typeof consume>[1]): Promise<DeliveryResult> => {
    const result = await consume(input, context);
    const { outcome, sequence, reason } = result;
    if (result.duplicate) return result;
    if (outcome === 'rejected' || outcome === 'stale')
      log.warn(`event ${outcome}`, { outcome, sequence, reason });
    else log.info(`stock ${outcome}`, { outcome, sequence });
    return result;
  };
};
