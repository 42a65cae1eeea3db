import * as z from 'zod';

/*
 * The local bus's fault injection settings: one zod schema checks them wherever they come from
 * (`faults` at start-up, `setFaults`, `PUT /faults`), so a misspelt key or an out-of-range value is
 * refused with the name of the setting instead of being ignored or breaking a run later.
 */

/** Longest random wait `shuffleDeliveryMs` may add to a delivery: reordering, not an outage. */
export const MAX_SHUFFLE_DELIVERY_MS = 60_000;
/** Most consecutive calls one throttling burst may reject: the SDK's retries must still get through. */
export const MAX_THROTTLE_BURST_CALLS = 1_000;
/** Most copies of one delivery: enough to exercise idempotency, few enough to keep a run small. */
export const MAX_DELIVERY_COPIES = 10;

/** Seeds are 32-bit: the generator's whole state. */
export const MAX_SEED = 2 ** 32 - 1;

export const RETRYABLE_ENTRY_ERRORS = ['ThrottlingException', 'InternalFailure'] as const;
export type RetryableEntryError = (typeof RETRYABLE_ENTRY_ERRORS)[number];

const rate = (name: string) =>
  z
    .number({ error: `${name} must be a number between 0 and 1` })
    .min(0, `${name} must be between 0 and 1`)
    .max(1, `${name} must be between 0 and 1`);

const count = (name: string, min: number, max: number) =>
  z
    .number({ error: `${name} must be an integer from ${min} to ${max}` })
    .int(`${name} must be an integer from ${min} to ${max}`)
    .min(min, `${name} must be an integer from ${min} to ${max}`)
    .max(max, `${name} must be an integer from ${min} to ${max}`);

export const faultSettingsSchema = z.strictObject(
  {
    /** Share (0 to 1) of valid entries that fail with a retryable per-entry error. */
    entryFailureRate: rate('entryFailureRate'),
    /** The per-entry error codes picked from, evenly. */
    entryFailureCodes: z
      .array(
        z.enum(RETRYABLE_ENTRY_ERRORS, {
          error: `entryFailureCodes may hold ${RETRYABLE_ENTRY_ERRORS.join(' or ')}`,
        }),
        { error: 'entryFailureCodes must be an array' },
      )
      .min(1, 'entryFailureCodes must not be empty')
      .readonly(),
    /** Share of calls that start a throttling burst (the call fails with HTTP 400 ThrottlingException). */
    throttleRate: rate('throttleRate'),
    /** Consecutive calls rejected once a burst starts, the first included. */
    throttleBurstCalls: count('throttleBurstCalls', 1, MAX_THROTTLE_BURST_CALLS),
    /** Share of calls that fail with HTTP 500 InternalException. */
    serverErrorRate: rate('serverErrorRate'),
    /** Share of target deliveries sent more than once. */
    duplicateDeliveryRate: rate('duplicateDeliveryRate'),
    /** Most deliveries of one event to one target when duplicated. */
    maxDeliveryCopies: count('maxDeliveryCopies', 2, MAX_DELIVERY_COPIES),
    /** Deliveries wait a random 0 to this many ms, so targets see events out of order. */
    shuffleDeliveryMs: z
      .number({ error: `shuffleDeliveryMs must be a number from 0 to ${MAX_SHUFFLE_DELIVERY_MS}` })
      .min(0, `shuffleDeliveryMs must be from 0 to ${MAX_SHUFFLE_DELIVERY_MS} ms`)
      .max(MAX_SHUFFLE_DELIVERY_MS, `shuffleDeliveryMs must be from 0 to ${MAX_SHUFFLE_DELIVERY_MS} ms`),
    /**
     * Where the bus's random numbers (faults, retry jitter) start from: the same seed and the same
     * calls inject the same faults. Setting it starts the sequence again; unset, the bus draws one.
     */
    seed: count('seed', 0, MAX_SEED),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? 'unknown fault setting'
        : 'fault settings must be a JSON object of settings',
  },
);

export type FaultSettings = Readonly<z.infer<typeof faultSettingsSchema>>;

/** A change to some settings; unset ones keep their value. */
const faultChangesSchema = faultSettingsSchema.partial();

/** Every fault off; the seed is the bus's own (given at start, else drawn). */
export const NO_FAULTS: Omit<FaultSettings, 'seed'> = {
  entryFailureRate: 0,
  entryFailureCodes: RETRYABLE_ENTRY_ERRORS,
  throttleRate: 0,
  throttleBurstCalls: 1,
  serverErrorRate: 0,
  duplicateDeliveryRate: 0,
  maxDeliveryCopies: 2,
  shuffleDeliveryMs: 0,
};

/** Fault settings that were refused; `field` names the setting (`entryFailureCodes[1]`) when there is one. */
export class FaultSettingsError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'FaultSettingsError';
  }
}

/** `changes` checked against the schema, or a FaultSettingsError naming the first setting at fault. */
export const parseFaultChanges = (changes: unknown): Partial<FaultSettings> => {
  const parsed = faultChangesSchema.safeParse(changes);
  // A setting given as undefined is a setting not given: it keeps its value.
  if (parsed.success)
    return Object.fromEntries(Object.entries(parsed.data).filter(([, value]) => value !== undefined));
  const [issue] = parsed.error.issues;
  const path = issue?.code === 'unrecognized_keys' ? [...issue.path, ...issue.keys.slice(0, 1)] : issue?.path;
  const field = path?.reduce<string>(
    (name, part) =>
      typeof part === 'number' ? `${name}[${part}]` : `${name}${name ? '.' : ''}${String(part)}`,
    '',
  );
  const message =
    issue?.code === 'unrecognized_keys'
      ? `unknown fault setting "${field}"; the settings are ${Object.keys(faultSettingsSchema.shape).join(', ')}`
      : issue?.message;
  throw new FaultSettingsError(message ?? 'invalid fault settings', field || undefined);
};

/** Settings as JSON text (`EVENTBRIDGE_FAULTS`), checked as parseFaultChanges checks them. */
export const parseFaultSettingsJson = (text: string): Partial<FaultSettings> => {
  let changes: unknown;
  try {
    changes = JSON.parse(text);
  } catch {
    throw new FaultSettingsError('fault settings must be a JSON object of settings');
  }
  return parseFaultChanges(changes);
};
