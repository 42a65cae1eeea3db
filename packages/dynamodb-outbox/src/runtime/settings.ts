import { defineContract, requiredName } from './env-contract.js';
import { outboxLayoutSchema } from './layout.js';
import { DEFAULT_PUT_EVENTS_LIMITS, MAX_PUT_EVENTS_BYTES } from './limits.js';
import * as z from './zod.js';

/*
 * The settings contracts of the relay, the reconciler and the writer (see env-contract.ts); the
 * consumer's has a module of its own, so that a consumer function loads none of these.
 */
export { type ConsumerSettings, consumerSettings } from './consumer-settings.js';
export { type EnvContract, type EnvMap, InvalidSettingsError } from './env-contract.js';

/** Days an outbox item is kept after it is written, either layout. */
export const retentionDaysSchema = z
  .number()
  .check(
    z.int('retentionDays must be a whole number of days'),
    z.minimum(1, 'retentionDays must be from 1 to 3650'),
    z.maximum(3650, 'retentionDays must be from 1 to 3650'),
  );

/** `source` of every published event: 1 to 256 characters, never `aws.`-prefixed. */
export const eventSourceSchema = z.string().check(
  z.refine(
    (source) => source.length > 0 && [...source].length <= DEFAULT_PUT_EVENTS_LIMITS.maxSourceLength,
    'source must be 1 to 256 characters',
  ),
  z.refine((source) => !source.startsWith('aws.'), 'source must not start with "aws." (reserved)'),
);

/** Largest PutEvents entry and call, in bytes. */
export const putEventsMaxBytesSchema = z
  .number()
  .check(
    z.int(),
    z.minimum(1, `putEventsMaxBytes must be from 1 to ${MAX_PUT_EVENTS_BYTES}`),
    z.maximum(MAX_PUT_EVENTS_BYTES, `putEventsMaxBytes must be from 1 to ${MAX_PUT_EVENTS_BYTES}`),
  );

/** What every publisher of outbox events needs: the relay and the reconciler publish alike. */
const publishingSchema = z.object({
  eventBusName: requiredName('eventBusName'),
  source: eventSourceSchema,
  poisonQueueUrl: requiredName('poisonQueueUrl'),
  putEventsMaxBytes: putEventsMaxBytesSchema,
  /** The table the outbox items live in (the service's, or the dedicated outbox table). */
  tableName: requiredName('tableName'),
  layout: outboxLayoutSchema,
});

export const relaySettings = defineContract(
  'OUTBOX_RELAY_SETTINGS',
  z.extend(publishingSchema, {
    /** Record items published (one receipt per invocation, either layout), so that the reconciler can find the rest. */
    deliveryTracking: z.boolean(),
    retentionDays: retentionDaysSchema,
  }),
);

export const reconcilerSettings = defineContract(
  'OUTBOX_RECONCILER_SETTINGS',
  z.extend(publishingSchema, {
    retentionDays: retentionDaysSchema,
    /** Republish items still pending this long after they were written (time-ordered) or occurred (same table). */
    thresholdSeconds: z.number().check(z.int(), z.minimum(60, 'thresholdSeconds must be at least 60')),
    /** Items handled per run at most; the next run picks up the rest. */
    maxItemsPerRun: z.number().check(z.int(), z.minimum(1, 'maxItemsPerRun must be a positive integer')),
  }),
);

/** What a service's function needs to add outbox items to its transactions (`grantWrite`). */
export const writerSettings = defineContract(
  'OUTBOX_WRITER_SETTINGS',
  z.object({
    tableName: requiredName('tableName'),
    layout: outboxLayoutSchema,
    /** Give each same-table item a time-index entry for the reconciler; the TTL is armed at write time either way. */
    deliveryTracking: z.boolean(),
    retentionDays: retentionDaysSchema,
  }),
);

/**
 * What a transactional consumer (`createTransactionalConsumer`) needs: its own outbox, where its
 * inbox records live too, and how long an eventId is remembered there.
 */
export const transactionalConsumerSettings = defineContract(
  'OUTBOX_TRANSACTIONAL_CONSUMER_SETTINGS',
  z.object({
    /** Seconds an inbox record is kept: at least the producer's redelivery horizon (the construct derives it). */
    inboxTtlSeconds: z
      .number()
      .check(z.int(), z.minimum(1, 'inboxTtlSeconds must be a positive number of seconds')),
    /** The consumer's own outbox, as `TransactionalOutbox.grantWrite` describes it to a writer. */
    outbox: writerSettings.schema,
  }),
);

export type RelaySettings = z.output<typeof relaySettings.schema>;
export type ReconcilerSettings = z.output<typeof reconcilerSettings.schema>;
export type WriterSettings = z.output<typeof writerSettings.schema>;
export type TransactionalConsumerSettings = z.output<typeof transactionalConsumerSettings.schema>;
