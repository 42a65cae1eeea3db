import { deliveryTrackerFor } from '../engine/delivery-tracking.js';
import { OutboxPublisher } from '../engine/publisher.js';
import type { OutboxTarget } from './target.js';

/** The CLI prints its own report: the publisher's metrics and warnings would only clutter it. */
const quiet = { addMetric: () => undefined, warn: () => undefined };

/**
 * What a redrive republishes with, for either source (poison queue or failure destination): the
 * relay's publisher on the target's bus and source, and the target layout's delivery tracking, so
 * that a republished event is marked exactly as the relay marks it.
 */
export const republishingOf = (
  target: Pick<
    OutboxTarget,
    'eventBridge' | 'eventBusName' | 'source' | 'doc' | 'tableName' | 'layout' | 'retentionDays'
  >,
) => ({
  publisher: new OutboxPublisher({
    eventBridge: target.eventBridge,
    eventBusName: target.eventBusName,
    source: target.source,
    metrics: quiet,
    logger: quiet,
  }),
  tracker: deliveryTrackerFor(target.doc, {
    tableName: target.tableName,
    layout: target.layout,
    retentionDays: target.retentionDays,
  }),
});
