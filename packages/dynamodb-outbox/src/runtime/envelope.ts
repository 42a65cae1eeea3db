import * as z from './zod.js';

/**
 * The event contract: what the relay publishes as the EventBridge `detail`. Consumers deduplicate
 * on `eventId` (fixed at write time), never on the EventBridge envelope `id`, which is new on
 * every PutEvents call. Generic: each service owns the schemas of its payloads.
 */
export const eventEnvelopeSchema = z.object({
  eventId: z.string().check(z.minLength(1)),
  eventType: z.string().check(z.minLength(1)),
  aggregateType: z.string().check(z.minLength(1)),
  aggregateId: z.string().check(z.minLength(1)),
  /** Per aggregate, gap-free, from 1: consumers order an aggregate's events on it. */
  sequence: z.number().check(z.int(), z.positive()),
  occurredAt: z.iso.datetime(),
  schemaVersion: z.number().check(z.int(), z.positive()),
  correlationId: z.optional(z.string()),
  payload: z.record(z.string(), z.unknown()),
});

export type EventEnvelope = z.infer<typeof eventEnvelopeSchema>;

/** An envelope whose payload a service has typed with its own schema. */
export type TypedEnvelope<P> = Omit<EventEnvelope, 'payload'> & { readonly payload: P };

/** The envelope fields of `value`, in contract order, and nothing else (keys and tracking stay home). */
export const toEnvelope = (value: EventEnvelope): EventEnvelope => ({
  eventId: value.eventId,
  eventType: value.eventType,
  aggregateType: value.aggregateType,
  aggregateId: value.aggregateId,
  sequence: value.sequence,
  occurredAt: value.occurredAt,
  schemaVersion: value.schemaVersion,
  ...(value.correlationId === undefined ? {} : { correlationId: value.correlationId }),
  payload: value.payload,
});

/**
 * Field paths and messages of the first issues only, never the values (they may be personal
 * data): for logs, poison messages and error responses.
 */
export const describeIssues = (error: z.core.$ZodError, prefix?: string): string =>
  error.issues
    .slice(0, 5)
    .map(
      (issue) =>
        `${[prefix, ...issue.path].filter((p) => p !== undefined).join('.') || '(value)'}: ${issue.message}`,
    )
    .join('; ');
