import { describe, expect, it } from 'vitest';
import { runCapacity } from '../../../src/cli/capacity';
import {
  capacityLimits,
  DEFAULT_ASSUMPTIONS,
  DEFAULT_CAPACITY_SETTINGS,
  LARGEST_CAPACITY_SETTINGS,
  planCapacity,
  predictRelay,
} from '../../../src/cli/capacity-model';

/*
 * The capacity model against cases worked out by hand. The constants: a partition takes 1,000
 * write units a second; a transactional write costs 2 units per KB; an on-demand table 40,000 units
 * a second; a receipt is 150 bytes plus 75 per key, 1 unit per KB rounded up; a relay invocation is
 * 40 ms plus 40 ms per round of up to 10 PutEvents calls; PutEvents takes 10 entries (1 MiB) a call.
 */

const ceilings = (limits: ReturnType<typeof capacityLimits>) =>
  Object.fromEntries(limits.map((limit) => [limit.name, Math.round(limit.ceiling * 100) / 100]));

const run = async (...argv: string[]) => {
  const logged: string[] = [];
  const errors: string[] = [];
  const status = await runCapacity(argv, { log: (t) => logged.push(t), error: (t) => errors.push(t) });
  return { status, out: logged.join('\n'), err: errors.join('\n') };
};

describe('capacityLimits', () => {
  it('the defaults, 1-KB items, us-east-1: the write partitions bind at 4,000 events a second', () => {
    // outbox write partitions: 8 × 1,000 / (2 × 1 KB)                        = 4,000
    // receipt of 100 keys: 150 + 100 × 75 = 7,650 bytes → 8 units, 0.08 an event
    // outbox table: 40,000 / (2 + 0.08)                                      = 19,230.77
    // receipts partition: 1,000 / 0.08                                       = 12,500
    // relay: 10 calls, one round: 40 + 40 = 80 ms; 8 × 1 × 100 / 0.08 s      = 10,000
    // PutEvents: 10,000 × 10                                                 = 100,000
    // Lambda: 1,000 / (0.08 s / 100 + 1 × 0.1 s)                             = 9,920.63
    // consumer table: 40,000 / 2                                             = 20,000
    expect(ceilings(capacityLimits(DEFAULT_CAPACITY_SETTINGS))).toEqual({
      'outbox write partitions': 4000,
      'outbox table (on-demand quota)': 19230.77,
      'receipts (one partition a minute)': 12500,
      'relay (stream shards × parallelization)': 10000,
      'PutEvents quota': 100000,
      'Lambda concurrency (relay + consumers)': 9920.63,
      "each consumer's idempotency or inbox table": 20000,
    });
  });

  it('the largest settings: the receipts partition binds at about 13,500 events a second', () => {
    // receipt of 1,000 keys: 150 + 75,000 = 75,150 bytes → 74 units, 0.074 an event → 1,000 / 0.074 = 13,513.51
    // outbox write partitions: 100 × 1,000 / 2 = 50,000; outbox table: 40,000 / 2.074 = 19,286.4
    // relay: 100 calls, 10 rounds: 40 + 400 = 440 ms; 100 × 10 × 1,000 / 0.44 s = 2,272,727.27
    // Lambda: 1,000 / (0.44 s / 1,000 + 0.1 s) = 9,956.19
    const limits = ceilings(capacityLimits(LARGEST_CAPACITY_SETTINGS));
    expect(limits).toMatchObject({
      'outbox write partitions': 50000,
      'outbox table (on-demand quota)': 19286.4,
      'receipts (one partition a minute)': 13513.51,
      'relay (stream shards × parallelization)': 2272727.27,
      'Lambda concurrency (relay + consumers)': 9956.19,
    });
  });

  it('300-KB items fit 3 to a PutEvents call (1 MiB): the quota carries 3 per request', () => {
    // floor(1,048,576 / 307,200) = 3 entries; 2,400 × 3 = 7,200
    const limits = ceilings(
      capacityLimits(DEFAULT_CAPACITY_SETTINGS, {
        ...DEFAULT_ASSUMPTIONS,
        itemKb: 300,
        putEventsQuota: 2400,
      }),
    );
    expect(limits['PutEvents quota']).toBe(7200);
    // 8 × 1,000 / (2 × 300) = 13.33
    expect(limits['outbox write partitions']).toBe(13.33);
  });
});

describe('planCapacity', () => {
  it('keeps the defaults where they carry the rate with 1.5× to spare', () => {
    const plan = planCapacity(1000);
    expect(plan.settings).toEqual(DEFAULT_CAPACITY_SETTINGS);
    expect(plan.binding.name).toBe('outbox write partitions');
    expect(plan.headroom).toBe(4);
    expect(plan.reconcilerQueriesPerMinute).toBe(9);
  });

  it('raises shardCount, then the parallelization factor, for 5,000 events a second with slow PutEvents', () => {
    // target 7,500: shardCount ceil(7,500 × 2 / 1,000) = 15 → 15 × 500 = 7,500
    // relay batch of 100 at 40 + 400 = 440 ms: 15 × P × 100 / 0.44 = 3,409 × P → P = 3 (10,227)
    // Lambda: 1,000 / (0.0044 + 0.1) = 9,578; the write partitions bind: 7,500 / 5,000 = 1.5
    const plan = planCapacity(5000, { putEventsMs: 400 });
    expect(plan.settings).toEqual({ shardCount: 15, parallelizationFactor: 3, batchSize: 100 });
    expect(plan.binding.name).toBe('outbox write partitions');
    expect(plan.headroom).toBeCloseTo(1.5, 10);
  });

  it('20,000 events a second of 4 KB in us-east-2 (2,400 requests a second): the table quota binds, below the rate', () => {
    // shardCount: ceil(30,000 × 8 / 1,000) = 240 → 100 at most: 100 × 1,000 / 8 = 12,500
    // outbox table: 40,000 / (8 + 0.08) = 4,950.5 → headroom 4,950.5 / 20,000 = 0.2475
    const plan = planCapacity(20_000, { itemKb: 4, putEventsQuota: 2400 });
    expect(plan.settings).toEqual({ shardCount: 100, parallelizationFactor: 1, batchSize: 100 });
    expect(plan.binding.name).toBe('outbox table (on-demand quota)');
    expect(plan.headroom).toBeCloseTo(40_000 / 8.08 / 20_000, 10);
  });

  it('keeps settings it is given', () => {
    const plan = planCapacity(3000, {}, { shardCount: 8, parallelizationFactor: 1, batchSize: 100 });
    expect(plan.settings).toEqual(DEFAULT_CAPACITY_SETTINGS);
    expect(plan.headroom).toBeCloseTo(4000 / 3000, 10);
  });
});

describe('predictRelay', () => {
  it('5 events a second, no window, 30 ms invocations: a poll every 250 ms gathers 1.25 events', () => {
    // 5 × 0.25 = 1.25 events: 0.8 invocations, calls and receipts per event; a 1-key receipt is 1 unit,
    // 0.8 an event; lag: half of 0.25 s + 30 ms = 155 ms
    expect(predictRelay({ eventsPerSecond: 5, batchSize: 100, windowSeconds: 0, invocationMs: 30 })).toEqual({
      eventsPerInvocation: 1.25,
      invocationsPerEvent: 0.8,
      putEventsCallsPerEvent: 0.8,
      receiptsPerEvent: 0.8,
      receiptWriteUnitsPerEvent: 0.8,
      writeUnitsPerEvent: 2.8,
      lagMs: 155,
    });
  });

  it('200 events a second, a 1 s window: batches fill to 100 in half a second', () => {
    // 100 events: 0.01 invocations and receipts, 0.1 calls an event; 8 units a receipt, 0.08 an event;
    // lag: the poll that finds the first record, 125 ms, half of 0.5 s and 100 ms = 475 ms
    expect(
      predictRelay({ eventsPerSecond: 200, batchSize: 100, windowSeconds: 1, invocationMs: 100 }),
    ).toEqual({
      eventsPerInvocation: 100,
      invocationsPerEvent: 0.01,
      putEventsCallsPerEvent: 0.1,
      receiptsPerEvent: 0.01,
      receiptWriteUnitsPerEvent: 0.08,
      writeUnitsPerEvent: 2.08,
      lagMs: 475,
    });
  });
});

describe('dynamodb-outbox capacity', () => {
  it('prints the settings, the limits with their sources and the binding one with its headroom', async () => {
    const { status, out } = await run('--events-per-second', '1000');
    expect(status).toBe(0);
    expect(out).toContain('shardCount: 8  (the reconciler makes 9 queries per minute it reads)');
    expect(out).toContain('relay: { parallelizationFactor: 1, batchSize: 100 }');
    expect(out).toContain(
      '| outbox write partitions | 4,000 | 8 partitions × 1,000 write units/s ÷ (2 units/KB × 1 KB) | <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html>',
    );
    expect(out).toContain(
      'Binding: outbox write partitions, 4,000 events/s; headroom 4.00× over 1,000 events/s.',
    );
  });

  it('exits 1 when the rate is above the binding limit, and answers in JSON', async () => {
    const { status, out } = await run(
      '--events-per-second',
      '20000',
      '--item-kb',
      '4',
      '--put-events-quota',
      '2400',
      '--json',
    );
    expect(status).toBe(1);
    const plan = JSON.parse(out) as { binding: { name: string }; settings: unknown };
    expect(plan.binding.name).toBe('outbox table (on-demand quota)');
    expect(plan.settings).toEqual({ shardCount: 100, parallelizationFactor: 1, batchSize: 100 });
  });

  it.each([
    [[], '--events-per-second is required'],
    [['--events-per-second', 'many'], '--events-per-second must be a number, got "many"'],
    [['--events-per-second', '0'], '--events-per-second must be above 0, got 0'],
    [['--events-per-second', '10', '--item-kb', '500'], '--item-kb must be above 0 and at most 400'],
    [
      ['--events-per-second', '10', '--shard-count', '101'],
      '--shard-count must be a whole number from 1 to 100, got 101',
    ],
    [
      ['--events-per-second', '10', '--parallelization-factor', '0'],
      '--parallelization-factor must be a whole number from 1 to 10, got 0',
    ],
    [['--events-per-second', '10', '--consumers', '1.5'], '--consumers must be a whole number, 0 or more'],
    [['--events-per-second', '10', '--put-events-quota=-1'], '--put-events-quota must be a number above 0'],
    [['--events-per-second', '10', '--rate', '5'], "Unknown option '--rate'"],
    [['--events-per-second', '10', 'extra'], 'Unexpected arguments: extra'],
  ])('%j is a usage error, exit 2', async (argv, message) => {
    const { status, err, out } = await run(...argv);
    expect(status).toBe(2);
    expect(err).toContain(message);
    expect(err).toContain('Usage: dynamodb-outbox capacity');
    expect(out).toBe('');
  });
});
