import { KEYS_PER_RECEIPT } from '../engine/delivery-tracking.js';
import { TIME_ORDERED_TABLE_LAYOUT } from '../runtime/layout.js';
import { DEFAULT_PUT_EVENTS_LIMITS, KIB } from '../runtime/limits.js';

/*
 * How many events a second the outbox carries, on paper: every limit on the path from the service's
 * transaction to the consumers, each as a ceiling in events a second with its formula and the AWS
 * page the number comes from. `dynamodb-outbox capacity`, docs/capacity.md and the bench's sweep all
 * read these functions, so the three cannot disagree. The numbers were read on 2026-12-04.
 */

export const SOURCES = {
  partition: 'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html',
  transactions: 'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html',
  tableQuota: 'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html',
  streamMapping: 'https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html',
  putEventsQuota: 'https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html',
  putEvents: 'https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html',
  lambdaConcurrency: 'https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html',
} as const;

/** A partition takes at most 1,000 write units a second (SOURCES.partition). */
const PARTITION_WRITE_UNITS = 1000;
/** A transactional write costs two write units per KB of the item: prepare and commit (SOURCES.transactions). */
const TRANSACTIONAL_WRITE_UNITS_PER_KB = 2;
/** An on-demand table's default ceiling: 40,000 write request units a second, adjustable (SOURCES.tableQuota). */
const ON_DEMAND_TABLE_WRITE_UNITS = 40_000;
/**
 * A receipt's bytes besides its keys: `pk` `RECEIPT#<minute>`, `sk` `RECEIPT#<writtenAt>#<uuid>`, the
 * set's attribute name and `expiresAt`, attribute names included (DynamoDB counts them).
 */
const RECEIPT_OVERHEAD_BYTES = 150;
/** The largest item DynamoDB stores, in KB. */
const MAX_ITEM_KB = 400;

/** The settings that move the ceilings: TransactionalOutbox's `shardCount` and its `relay` props. */
export interface CapacitySettings {
  readonly shardCount: number;
  readonly parallelizationFactor: number;
  readonly batchSize: number;
}

/** The defaults of TransactionalOutbox and its relay (an infra test holds them to the construct's). */
export const DEFAULT_CAPACITY_SETTINGS: CapacitySettings = {
  shardCount: TIME_ORDERED_TABLE_LAYOUT.shardCount,
  parallelizationFactor: 1,
  batchSize: 100,
};

/** The largest settings AWS and the construct accept that still raise a ceiling (a receipt lists 1,000 keys at most). */
export const LARGEST_CAPACITY_SETTINGS: CapacitySettings = {
  shardCount: 100,
  parallelizationFactor: 10,
  batchSize: KEYS_PER_RECEIPT,
};

/** What the service and its account bring: sizes, quotas, and durations the model cannot know. */
export interface CapacityAssumptions {
  /** Size of an outbox item, in KB (the event is about as large). */
  readonly itemKb: number;
  /** PutEvents requests a second the outbox may use: the Region's quota, shared with every other caller in the account. */
  readonly putEventsQuota: number;
  /** The account's Lambda concurrency in the Region. */
  readonly lambdaConcurrency: number;
  /** Lambda consumers that receive each event. */
  readonly consumers: number;
  /** How long a consumer invocation takes, in ms. */
  readonly consumerMs: number;
  /** One PutEvents round trip, in ms: the relay sends up to 10 calls at once. */
  readonly putEventsMs: number;
  /** The rest of a relay invocation (its receipt write, Lambda's own overhead), in ms. */
  readonly relayOverheadMs: number;
  /** Bytes of an outbox sort key in a receipt: `OUTBOX#<writtenAt>#Order#<26-character id>#<sequence>` is 75. */
  readonly receiptKeyBytes: number;
}

export const DEFAULT_ASSUMPTIONS: CapacityAssumptions = {
  itemKb: 1,
  putEventsQuota: 10_000,
  lambdaConcurrency: 1000,
  consumers: 1,
  consumerMs: 100,
  putEventsMs: 40,
  relayOverheadMs: 40,
  receiptKeyBytes: 75,
};

export interface CapacityLimit {
  readonly name: string;
  /** Events a second this limit lets through. */
  readonly ceiling: number;
  /** How the ceiling is worked out, with this case's numbers. */
  readonly formula: string;
  readonly source: string;
}

const format = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });

/** Write units of one event's outbox item, written in the service's transaction. */
export const outboxWriteUnits = (itemKb: number): number =>
  TRANSACTIONAL_WRITE_UNITS_PER_KB * Math.ceil(itemKb);

/** Write units of the receipt of `events` events (one PutItem, 1 unit per KB), per event. */
export const receiptWriteUnitsPerEvent = (events: number, receiptKeyBytes: number): number => {
  const keys = Math.min(events, KEYS_PER_RECEIPT);
  return Math.ceil((RECEIPT_OVERHEAD_BYTES + keys * receiptKeyBytes) / KIB) / keys;
};

/** Entries of one PutEvents call: 10 at most, and no more than fit in its size limit. */
export const entriesPerCall = (events: number, itemKb: number): number =>
  Math.max(
    1,
    Math.min(
      DEFAULT_PUT_EVENTS_LIMITS.maxEntriesPerCall,
      events,
      Math.floor(DEFAULT_PUT_EVENTS_LIMITS.maxCallBytes / (itemKb * KIB)),
    ),
  );

/** How long a relay invocation of a full batch takes: its calls go 10 at a time. */
export const relayInvocationMs = (batchSize: number, a: CapacityAssumptions): number => {
  const calls = Math.ceil(batchSize / entriesPerCall(batchSize, a.itemKb));
  return a.relayOverheadMs + Math.ceil(calls / 10) * a.putEventsMs;
};

/**
 * Every ceiling on the path for `settings`, in events a second, assuming full batches (the relay
 * is busy, so records wait for it) and, for the relay, that each of the minute's `shardCount`
 * partition keys sits in a table partition of its own, each read through a stream shard of its
 * own: what an on-demand table grows to under sustained load.
 */
export const capacityLimits = (
  settings: CapacitySettings,
  a: CapacityAssumptions = DEFAULT_ASSUMPTIONS,
): CapacityLimit[] => {
  const { shardCount, parallelizationFactor: factor, batchSize } = settings;
  const kb = Math.ceil(a.itemKb);
  const itemUnits = outboxWriteUnits(a.itemKb);
  const receiptUnits = receiptWriteUnitsPerEvent(batchSize, a.receiptKeyBytes);
  const receiptKeys = Math.min(batchSize, KEYS_PER_RECEIPT);
  const invocationMs = relayInvocationMs(batchSize, a);
  const entries = entriesPerCall(batchSize, a.itemKb);
  const relaySecondsPerEvent = invocationMs / 1000 / batchSize;
  const consumerSeconds = (a.consumers * a.consumerMs) / 1000;
  return [
    {
      name: 'outbox write partitions',
      ceiling: (shardCount * PARTITION_WRITE_UNITS) / itemUnits,
      formula: `${shardCount} partitions × 1,000 write units/s ÷ (2 units/KB × ${kb} KB)`,
      source: `${SOURCES.partition} ${SOURCES.transactions}`,
    },
    {
      name: 'outbox table (on-demand quota)',
      ceiling: ON_DEMAND_TABLE_WRITE_UNITS / (itemUnits + receiptUnits),
      formula: `40,000 write units/s ÷ (${itemUnits} for the item + ${format(receiptUnits, 3)} for receipts)`,
      source: SOURCES.tableQuota,
    },
    {
      name: 'receipts (one partition a minute)',
      ceiling: PARTITION_WRITE_UNITS / receiptUnits,
      formula: `1,000 write units/s ÷ ${format(receiptUnits, 3)} units per event (a ${format(receiptKeys)}-key receipt of ${format(RECEIPT_OVERHEAD_BYTES + receiptKeys * a.receiptKeyBytes)} bytes)`,
      source: SOURCES.partition,
    },
    {
      name: 'relay (stream shards × parallelization)',
      ceiling: (shardCount * factor * batchSize) / (invocationMs / 1000),
      formula: `${shardCount} shards × ${factor} × ${format(batchSize)} events ÷ ${format(invocationMs)} ms a batch`,
      source: SOURCES.streamMapping,
    },
    {
      name: 'PutEvents quota',
      ceiling: a.putEventsQuota * entries,
      formula: `${format(a.putEventsQuota)} requests/s × ${entries} entries a call`,
      source: `${SOURCES.putEventsQuota} ${SOURCES.putEvents}`,
    },
    {
      name: 'Lambda concurrency (relay + consumers)',
      ceiling: a.lambdaConcurrency / (relaySecondsPerEvent + consumerSeconds),
      formula: `${format(a.lambdaConcurrency)} ÷ (${format(relaySecondsPerEvent * 1000, 2)} ms relay + ${a.consumers} × ${format(a.consumerMs)} ms consumer, per event)`,
      source: SOURCES.lambdaConcurrency,
    },
    {
      name: "each consumer's idempotency or inbox table",
      ceiling: ON_DEMAND_TABLE_WRITE_UNITS / 2,
      formula:
        '40,000 write units/s ÷ 2 units per event (an idempotency record written and completed, or a transactional inbox item)',
      source: SOURCES.tableQuota,
    },
  ];
};

/** The lowest ceiling: the one the rate meets first. */
export const bindingLimit = (limits: readonly CapacityLimit[]): CapacityLimit =>
  limits.reduce((lowest, limit) => (limit.ceiling < lowest.ceiling ? limit : lowest));

/** Queries a reconciler run makes per minute it reads: one per partition it lists, and the minute's receipts. */
export const reconcilerQueriesPerMinute = (shardsListed: number): number => shardsListed + 1;

export interface CapacityPlan {
  readonly eventsPerSecond: number;
  readonly assumptions: CapacityAssumptions;
  readonly settings: CapacitySettings;
  readonly limits: CapacityLimit[];
  readonly binding: CapacityLimit;
  /** The binding ceiling over the rate: below 1, the rate is not carried. */
  readonly headroom: number;
  readonly reconcilerQueriesPerMinute: number;
}

/**
 * The settings are chosen for this much more than the rate: partition keys are hashed, so the
 * hottest partition takes more than its share, and DynamoDB meters each partition by the second.
 */
export const HEADROOM_GOAL = 1.5;
const BATCH_SIZES = [100, 250, 500, KEYS_PER_RECEIPT];

/**
 * The smallest settings that carry `eventsPerSecond` with HEADROOM_GOAL to spare, from the defaults
 * up (any of `fixed` is kept as given): shardCount for the write partitions, then the relay's
 * parallelization factor and, past 10, its batch size. What the settings cannot raise (receipts,
 * quotas, consumers) shows as a headroom below the goal.
 */
export const planCapacity = (
  eventsPerSecond: number,
  assumptions: Partial<CapacityAssumptions> = {},
  fixed: Partial<CapacitySettings> = {},
): CapacityPlan => {
  const a = { ...DEFAULT_ASSUMPTIONS, ...assumptions };
  const target = eventsPerSecond * HEADROOM_GOAL;
  const shardCount =
    fixed.shardCount ??
    Math.min(
      LARGEST_CAPACITY_SETTINGS.shardCount,
      Math.max(
        DEFAULT_CAPACITY_SETTINGS.shardCount,
        Math.ceil((target * outboxWriteUnits(a.itemKb)) / PARTITION_WRITE_UNITS),
      ),
    );
  const relayCeiling = (s: CapacitySettings) =>
    capacityLimits(s, a).find((limit) => limit.name.startsWith('relay'))?.ceiling ?? 0;
  const candidates = (fixed.batchSize === undefined ? BATCH_SIZES : [fixed.batchSize]).flatMap((batchSize) =>
    (fixed.parallelizationFactor === undefined
      ? Array.from({ length: LARGEST_CAPACITY_SETTINGS.parallelizationFactor }, (_, i) => i + 1)
      : [fixed.parallelizationFactor]
    ).map((parallelizationFactor) => ({ shardCount, parallelizationFactor, batchSize })),
  );
  const settings =
    candidates.find((s) => relayCeiling(s) >= target) ?? (candidates.at(-1) as CapacitySettings);
  const limits = capacityLimits(settings, a);
  const binding = bindingLimit(limits);
  return {
    eventsPerSecond,
    assumptions: a,
    settings,
    limits,
    binding,
    headroom: binding.ceiling / eventsPerSecond,
    reconcilerQueriesPerMinute: reconcilerQueriesPerMinute(settings.shardCount),
  };
};

/** Why an input cannot be planned for, or undefined. Names the input as the CLI spells it. */
export const assumptionProblem = (a: CapacityAssumptions): string | undefined => {
  if (!(a.itemKb > 0 && a.itemKb <= MAX_ITEM_KB))
    return `--item-kb must be above 0 and at most ${MAX_ITEM_KB} (DynamoDB's item limit)`;
  const positive: Array<[string, number]> = [
    ['--put-events-quota', a.putEventsQuota],
    ['--lambda-concurrency', a.lambdaConcurrency],
    ['--consumer-ms', a.consumerMs],
    ['--put-events-ms', a.putEventsMs],
  ];
  for (const [flag, value] of positive)
    if (!(Number.isFinite(value) && value > 0)) return `${flag} must be a number above 0`;
  if (!(Number.isInteger(a.consumers) && a.consumers >= 0))
    return '--consumers must be a whole number, 0 or more';
  return undefined;
};

/**
 * The relay at a steady `eventsPerSecond` on one stream shard, as the bench's sweep runs it: the
 * poller reads a shard four times a second, or once per invocation when invocations take longer;
 * a batching window holds the batch until it is full or the window ends.
 * Given how long an invocation takes (`invocationMs`, measured), the events of an invocation
 * follow, and from them calls, receipts and write units per event; lag is the wait for the poll
 * that finds an event, half the time its batch gathers, and the invocation. Assumes arrivals evenly spread and one receipt per invocation (one more when
 * an invocation's events straddle a minute, ignored here).
 */
export const predictRelay = (input: {
  readonly eventsPerSecond: number;
  readonly batchSize: number;
  readonly windowSeconds: number;
  readonly invocationMs: number;
  readonly itemKb?: number;
  readonly receiptKeyBytes?: number;
}) => {
  const itemKb = input.itemKb ?? DEFAULT_ASSUMPTIONS.itemKb;
  const invocationSeconds = input.invocationMs / 1000;
  // Idle, the poller reads every 250 ms (four times a second, as the local poller mirrors Lambda);
  // an invocation longer than that spaces the reads instead.
  const pollSeconds = Math.max(0.25, invocationSeconds);
  const gatherSeconds = input.windowSeconds > 0 ? input.windowSeconds : pollSeconds;
  const events = Math.max(1, Math.min(input.batchSize, input.eventsPerSecond * gatherSeconds));
  const fillSeconds = Math.min(gatherSeconds, events / input.eventsPerSecond);
  // Without a window the wait for the next poll is the gathering; with one, the batch's first record
  // is first found by a poll, half a poll interval after it is written.
  const waitSeconds = input.windowSeconds > 0 ? 0.25 / 2 + fillSeconds / 2 : fillSeconds / 2;
  const receiptUnits = receiptWriteUnitsPerEvent(
    events,
    input.receiptKeyBytes ?? DEFAULT_ASSUMPTIONS.receiptKeyBytes,
  );
  return {
    eventsPerInvocation: events,
    invocationsPerEvent: 1 / events,
    putEventsCallsPerEvent: Math.ceil(events / entriesPerCall(events, itemKb)) / events,
    receiptsPerEvent: 1 / events,
    receiptWriteUnitsPerEvent: receiptUnits,
    writeUnitsPerEvent: outboxWriteUnits(itemKb) + receiptUnits,
    lagMs: waitSeconds * 1000 + input.invocationMs,
  };
};
