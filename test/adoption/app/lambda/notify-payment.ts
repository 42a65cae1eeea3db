import { createOutboxConsumer, logger } from 'dynamodb-outbox/runtime';

/** Once per eventId, whatever the redeliveries: the idempotency table comes from OutboxConsumer. */
export const handler = createOutboxConsumer({
  name: 'payment-notifier',
  handle: async (delivery) => {
    logger.info('payment recorded', { paymentId: delivery.event.aggregateId });
    return { paymentId: delivery.event.aggregateId };
  },
});
