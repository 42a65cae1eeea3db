/**
 * EventBridge PutEvents limits, in one place. Sources, as read on 2026-11-30:
 * - https://aws.amazon.com/blogs/compute/more-room-to-build-serverless-services-now-support-payloads-up-to-1-mb
 *   (2026-01-29): "AWS has raised the maximum payload size from 256 KB to 1 MB for [...] Amazon
 *   EventBridge".
 * - https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
 *   ("You can batch multiple event entries into one request for efficiency. However, the total
 *   entry size must be less than 256KB."; 1 to 10 entries; nested JSON processed up to 1000
 *   levels). Another copy of the same page words it per entry: "The maximum size for a PutEvents
 *   event entry is 256 KB." Neither copy had been updated to 1 MB.
 * - https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html
 *   (DetailType at most 128 characters; TraceHeader 1 to 500 characters; EventBusName 1 to 1600)
 * - https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html (how size is
 *   counted; "The size limit is imposed on the entry.")
 * - https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html lists no event size.
 * - Source: 1 to 256 characters and never `aws.`-prefixed, as the EventBridge Scheduler
 *   PutEvents target documents it (the PutEvents reference itself states no length).
 *
 * The documents are ambiguous on whether the size limit applies to each entry or to the sum of
 * the entries of one request ("total entry size"; EventBridge's own rejection reads "Total size
 * of the entries in the request is over the limit"). We take the safe reading: the sum of the
 * entry sizes in one call stays within the limit, which bounds each entry too. Both default to
 * 1 MiB (1,048,576 bytes), "1 MB" counted in binary units as the old 256 KB was (262,144 bytes).
 * An entry over the limit is never sent: it is parked on the poison queue. Lower both with the
 * construct's putEventsMaxBytes (262144 restores the old limit) where a bus does not accept
 * larger events.
 */
export interface PutEventsLimits {
  /** Entries per PutEvents call. */
  readonly maxEntriesPerCall: number;
  /** Largest single entry, in bytes as EventBridge counts them (see entry-size.ts). */
  readonly maxEntryBytes: number;
  /** Largest sum of entry sizes in one call. */
  readonly maxCallBytes: number;
  /** DetailType length, in characters. */
  readonly maxDetailTypeLength: number;
  /** Source length, in characters. */
  readonly maxSourceLength: number;
  /** TraceHeader length, in characters. */
  readonly maxTraceHeaderLength: number;
  /** EventBusName (name or ARN) length, in characters. */
  readonly maxEventBusNameLength: number;
  /** Nesting depth of the Detail JSON that EventBridge still processes. */
  readonly maxDetailDepth: number;
}

export const KIB = 1024;
export const MIB = 1024 * KIB;

export const DEFAULT_PUT_EVENTS_LIMITS: PutEventsLimits = {
  maxEntriesPerCall: 10,
  maxEntryBytes: MIB,
  maxCallBytes: MIB,
  maxDetailTypeLength: 128,
  maxSourceLength: 256,
  maxTraceHeaderLength: 500,
  maxEventBusNameLength: 1600,
  maxDetailDepth: 1000,
};

/** Hard ceilings: no configuration may go beyond what the API accepts at all. */
const API_MAX_ENTRIES_PER_CALL = 10;
export const MAX_PUT_EVENTS_BYTES = MIB;

const checkRange = (name: string, value: number, min: number, max: number): void => {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`PutEvents limit ${name} must be an integer from ${min} to ${max}, got ${value}`);
};

/** Defaults overlaid with `overrides`, checked against what the API can accept. */
export const resolveLimits = (overrides: Partial<PutEventsLimits> = {}): PutEventsLimits => {
  const limits = { ...DEFAULT_PUT_EVENTS_LIMITS, ...overrides };
  checkRange('maxEntriesPerCall', limits.maxEntriesPerCall, 1, API_MAX_ENTRIES_PER_CALL);
  checkRange('maxCallBytes', limits.maxCallBytes, 1, MAX_PUT_EVENTS_BYTES);
  checkRange('maxEntryBytes', limits.maxEntryBytes, 1, limits.maxCallBytes);
  checkRange('maxDetailTypeLength', limits.maxDetailTypeLength, 1, Number.MAX_SAFE_INTEGER);
  checkRange('maxSourceLength', limits.maxSourceLength, 1, Number.MAX_SAFE_INTEGER);
  checkRange('maxTraceHeaderLength', limits.maxTraceHeaderLength, 1, Number.MAX_SAFE_INTEGER);
  checkRange('maxEventBusNameLength', limits.maxEventBusNameLength, 1, Number.MAX_SAFE_INTEGER);
  checkRange('maxDetailDepth', limits.maxDetailDepth, 1, Number.MAX_SAFE_INTEGER);
  return limits;
};
