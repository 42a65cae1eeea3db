import { DeliveryReceipts } from '../engine/delivery-tracking.js';
import { OutboxPublisher } from '../engine/publisher.js';
import type { OutboxTarget } from './target.js';
import { UsageError } from './usage-error.js';

/** The CLI prints its own report: the publisher's metrics and warnings would only clutter it. */
const quiet = { addMetric: () => undefined, warn: () => undefined };

/** The outbox's outputs name the bus and the source; without them the operator must. */
const required = (value: string | undefined, missing: string): string => {
  if (value === undefined)
    throw new UsageError(`${missing} (or run where the outbox's stack outputs name it)`);
  return value;
};

/**
 * What a redrive republishes with, for either source (poison queue or failure destination): the
 * relay's publisher on the target's bus and source, and the target layout's delivery tracking, so
 * that a republished event is recorded exactly as the relay records it.
 */
export const republishingOf = (
  target: Pick<
    OutboxTarget,
    'eventBridge' | 'eventBusName' | 'source' | 'doc' | 'tableName' | 'layout' | 'retentionDays'
  >,
) => ({
  publisher: new OutboxPublisher({
    eventBridge: target.eventBridge,
    eventBusName: required(target.eventBusName, 'No event bus to republish to: pass --bus <name>'),
    source: required(target.source, 'No event source to republish with: pass --source <source>'),
    metrics: quiet,
    logger: quiet,
  }),
  tracker: new DeliveryReceipts(target.doc, {
    tableName: target.tableName,
    layout: target.layout,
    retentionDays: target.retentionDays,
  }),
});
