import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { describeIssues, type EventEnvelope, eventEnvelopeSchema, toEnvelope } from './envelope.js';
import { keyOfItem, type OutboxKey, type OutboxLayout } from './layout.js';
import * as z from './zod.js';

/**
 * An outbox item as read back (stream image, time listing, poison message): its key, the
 * envelope to publish, the trace header to publish it with, and the whole item as stored, which
 * is what the poison queue keeps so that nothing is parked with only a pointer to it.
 */
export interface OutboxRecord {
  readonly key: OutboxKey;
  readonly envelope: EventEnvelope;
  /** X-Ray trace header of the request that wrote the event; becomes the PutEvents TraceHeader. */
  readonly traceHeader?: string;
  readonly item: Readonly<Record<string, unknown>>;
}

export type ParsedOutboxItem =
  | { readonly ok: true; readonly record: OutboxRecord }
  | { readonly ok: false; readonly reason: string; readonly key?: OutboxKey };

const storedExtrasSchema = z.object({ traceHeader: z.optional(z.string()) });

/** An item as stored (plain JavaScript values) → an outbox record, or why it is not one. */
export const parseOutboxItem = (
  layout: OutboxLayout,
  item: Readonly<Record<string, unknown>>,
): ParsedOutboxItem => {
  const key = keyOfItem(layout, item);
  const envelope = eventEnvelopeSchema.safeParse(item);
  const extras = storedExtrasSchema.safeParse(item);
  if (key === undefined)
    return {
      ok: false,
      reason: `Not a valid outbox item: no string key attributes ${layout.partitionKey}/${layout.sortKey}`,
    };
  if (!envelope.success)
    return { ok: false, reason: `Not a valid outbox item: ${describeIssues(envelope.error)}`, key };
  if (!extras.success)
    return { ok: false, reason: `Not a valid outbox item: ${describeIssues(extras.error)}`, key };
  return {
    ok: true,
    record: {
      key,
      envelope: toEnvelope(envelope.data),
      ...(extras.data.traceHeader ? { traceHeader: extras.data.traceHeader } : {}),
      item,
    },
  };
};

/** A stream image (DynamoDB JSON) → an outbox record, or why it is not one. */
export const parseOutboxImage = (
  layout: OutboxLayout,
  image: Readonly<Record<string, unknown>>,
): ParsedOutboxItem => {
  let item: Record<string, unknown>;
  try {
    item = unmarshall(image as Record<string, AttributeValue>);
  } catch (error) {
    return {
      ok: false,
      reason: `Not a valid outbox item: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  return parseOutboxItem(layout, item);
};
