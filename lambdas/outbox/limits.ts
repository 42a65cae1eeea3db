/**
 * EventBridge PutEvents limits, in one place. Sources:
 * - https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
 *   (1 to 10 entries per call; entry size at most 256 KB; nested JSON processed up to 1000 levels)
 * - https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html
 *   (DetailType at most 128 characters; TraceHeader 1 to 500 characters; EventBusName 1 to 1600)
 * - https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html (how size is counted)
 * - Source: 1 to 256 characters and never `aws.`-prefixed, as the EventBridge Scheduler
 *   PutEvents target documents it (the PutEvents reference itself states no length).
 *
 * AWS was reported to raise the event size to 1 MB in January 2026. 256 KiB stays the default
 * because a bus or region still on the old limit rejects the whole call; raise it with the
 * construct's putEventsMaxBytes only where the larger limit is confirmed.
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

export const DEFAULT_PUT_EVENTS_LIMITS: PutEventsLimits = {
  maxEntriesPerCall: 10,
  maxEntryBytes: 256 * KIB,
  maxCallBytes: 256 * KIB,
  maxDetailTypeLength: 128,
  maxSourceLength: 256,
  maxTraceHeaderLength: 500,
  maxEventBusNameLength: 1600,
  maxDetailDepth: 1000,
};

/** Hard ceilings: no configuration may go beyond what the API accepts at all. */
const API_MAX_ENTRIES_PER_CALL = 10;
export const MAX_PUT_EVENTS_BYTES = 1024 * KIB;

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
