import { describeIssues } from './envelope';
import { outboxLayoutSchema } from './layout';
import { DEFAULT_PUT_EVENTS_LIMITS, MAX_PUT_EVENTS_BYTES } from './limits';
import * as z from './zod';

/**
 * The typed environment contract of each outbox function: the construct writes it (`toEnv`), the
 * function's wiring reads it back (`fromEnv`), both through the same zod schema, so the bounds
 * are the same on both sides and a setting is described once. One environment variable a
 * contract, holding JSON: names that CloudFormation resolves (table, bus, queue) are embedded as
 * tokens and arrive as plain strings.
 */
export type EnvMap = Readonly<Record<string, string | undefined>>;

export interface EnvContract<S extends z.ZodMiniType> {
  /** The environment variable that carries the settings. */
  readonly variable: string;
  readonly schema: S;
  /** Validated settings → the function's environment. Throws naming the setting. */
  toEnv(settings: z.input<S>): Record<string, string>;
  /** The function's environment → validated settings. Throws naming the variable and the setting. */
  fromEnv(env?: EnvMap): z.output<S>;
}

export class InvalidSettingsError extends Error {
  override readonly name = 'InvalidSettingsError';
}

const defineContract = <S extends z.ZodMiniType>(variable: string, schema: S): EnvContract<S> => {
  const parse = (value: unknown): z.output<S> => {
    const parsed = schema.safeParse(value);
    if (!parsed.success)
      throw new InvalidSettingsError(`Invalid ${variable}: ${describeIssues(parsed.error)}`);
    return parsed.data;
  };
  return {
    variable,
    schema,
    toEnv: (settings) => ({ [variable]: JSON.stringify(parse(settings)) }),
    fromEnv: (env = process.env) => {
      const raw = env[variable];
      if (raw === undefined || raw === '')
        throw new InvalidSettingsError(`Missing required environment variable ${variable}`);
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        throw new InvalidSettingsError(`Invalid ${variable}: not JSON`);
      }
      return parse(value);
    },
  };
};

const name = (what: string) => z.string().check(z.minLength(1, `${what} is required`));

/** Days an outbox item is kept after it was published (same-table tracking) or written (receipts, or no tracking). */
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
  eventBusName: name('eventBusName'),
  source: eventSourceSchema,
  poisonQueueUrl: name('poisonQueueUrl'),
  putEventsMaxBytes: putEventsMaxBytesSchema,
  /** The table the outbox items live in (the service's, or the dedicated outbox table). */
  tableName: name('tableName'),
  layout: outboxLayoutSchema,
});

export const relaySettings = defineContract(
  'OUTBOX_RELAY_SETTINGS',
  z.extend(publishingSchema, {
    /** Mark items published (and only then arm their TTL), so that the reconciler can find the rest. */
    deliveryTracking: z.boolean(),
    retentionDays: retentionDaysSchema,
  }),
);

export const reconcilerSettings = defineContract(
  'OUTBOX_RECONCILER_SETTINGS',
  z.extend(publishingSchema, {
    retentionDays: retentionDaysSchema,
    /** Republish items still pending this long after they occurred. */
    thresholdSeconds: z.number().check(z.int(), z.minimum(60, 'thresholdSeconds must be at least 60')),
    /** Items handled per run at most; the next run picks up the rest. */
    maxItemsPerRun: z.number().check(z.int(), z.minimum(1, 'maxItemsPerRun must be a positive integer')),
  }),
);

/** What a service's function needs to add outbox items to its transactions (`grantWrite`). */
export const writerSettings = defineContract(
  'OUTBOX_WRITER_SETTINGS',
  z.object({
    tableName: name('tableName'),
    layout: outboxLayoutSchema,
    /** Write items pending (no TTL) for the relay to mark; without tracking, arm the TTL at write time. */
    deliveryTracking: z.boolean(),
    retentionDays: retentionDaysSchema,
  }),
);

/** What an outbox consumer needs: its idempotency table and how long to remember an eventId. */
export const consumerSettings = defineContract(
  'OUTBOX_CONSUMER_SETTINGS',
  z.object({
    idempotencyTableName: name('idempotencyTableName'),
    idempotencyTtlSeconds: z
      .number()
      .check(z.int(), z.minimum(1, 'idempotencyTtlSeconds must be a positive number of seconds')),
  }),
);

export type RelaySettings = z.output<typeof relaySettings.schema>;
export type ReconcilerSettings = z.output<typeof reconcilerSettings.schema>;
export type WriterSettings = z.output<typeof writerSettings.schema>;
export type ConsumerSettings = z.output<typeof consumerSettings.schema>;
