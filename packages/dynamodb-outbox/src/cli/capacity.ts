import { parseArgs } from 'node:util';
import {
  assumptionProblem,
  type CapacityAssumptions,
  type CapacityLimit,
  type CapacityPlan,
  type CapacitySettings,
  DEFAULT_ASSUMPTIONS,
  HEADROOM_GOAL,
  LARGEST_CAPACITY_SETTINGS,
  planCapacity,
} from './capacity-model.js';
import type { CliOutput } from './main.js';
import { UsageError } from './usage-error.js';

const USAGE = `Usage: dynamodb-outbox capacity --events-per-second <n> [options]

Works out, on paper, the settings of a TransactionalOutbox for a peak rate of events, and every
limit on the path with its ceiling, formula and AWS source (see docs/capacity.md): the binding
one, and its headroom over the rate. The settings are the smallest that leave ${HEADROOM_GOAL}× headroom
where a setting can.

  --events-per-second <n>      the peak rate to carry (required)
  --item-kb <n>                size of an outbox item, in KB (default ${DEFAULT_ASSUMPTIONS.itemKb})
  --put-events-quota <n>       PutEvents requests a second the outbox may use: the Region's quota,
                               shared by the account (default ${DEFAULT_ASSUMPTIONS.putEventsQuota}, us-east-1's; far less in
                               smaller Regions: see the EventBridge quotas page)
  --lambda-concurrency <n>     the account's Lambda concurrency (default ${DEFAULT_ASSUMPTIONS.lambdaConcurrency})
  --consumers <n>              Lambda consumers of each event (default ${DEFAULT_ASSUMPTIONS.consumers})
  --consumer-ms <n>            duration of a consumer invocation (default ${DEFAULT_ASSUMPTIONS.consumerMs})
  --put-events-ms <n>          one PutEvents round trip (default ${DEFAULT_ASSUMPTIONS.putEventsMs})
  --shard-count <n>            keep this shardCount (1 to ${LARGEST_CAPACITY_SETTINGS.shardCount}) instead of choosing one
  --parallelization-factor <n> keep this relay.parallelizationFactor (1 to ${LARGEST_CAPACITY_SETTINGS.parallelizationFactor})
  --batch-size <n>             keep this relay.batchSize (1 to 10000)
  --json                       machine-readable output
  -h, --help                   this text

Exit status: 0 the rate fits, 1 it is above the binding limit, 2 usage problem.`;

const NUMBER_FLAGS = {
  'events-per-second': { type: 'string' },
  'item-kb': { type: 'string' },
  'put-events-quota': { type: 'string' },
  'lambda-concurrency': { type: 'string' },
  consumers: { type: 'string' },
  'consumer-ms': { type: 'string' },
  'put-events-ms': { type: 'string' },
  'shard-count': { type: 'string' },
  'parallelization-factor': { type: 'string' },
  'batch-size': { type: 'string' },
} as const;

const numberOf = (flag: string, raw: string | undefined): number | undefined => {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value))
    throw new UsageError(`--${flag} must be a number, got "${raw}"`);
  return value;
};

const integerIn = (flag: string, value: number | undefined, min: number, max: number): number | undefined => {
  if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max))
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, got ${value}`);
  return value;
};

/** The plan `argv` asks for: its inputs checked, each problem named by its flag. */
export const capacityPlanOf = (values: Partial<Record<keyof typeof NUMBER_FLAGS, string>>): CapacityPlan => {
  const n = (flag: keyof typeof NUMBER_FLAGS) => numberOf(flag, values[flag]);
  const rate = n('events-per-second');
  if (rate === undefined) throw new UsageError('--events-per-second is required: the peak rate to carry');
  if (!(rate > 0)) throw new UsageError(`--events-per-second must be above 0, got ${rate}`);
  const given: Array<[keyof CapacityAssumptions, number | undefined]> = [
    ['itemKb', n('item-kb')],
    ['putEventsQuota', n('put-events-quota')],
    ['lambdaConcurrency', n('lambda-concurrency')],
    ['consumers', n('consumers')],
    ['consumerMs', n('consumer-ms')],
    ['putEventsMs', n('put-events-ms')],
  ];
  const assumptions: CapacityAssumptions = {
    ...DEFAULT_ASSUMPTIONS,
    ...Object.fromEntries(given.filter(([, value]) => value !== undefined)),
  };
  const problem = assumptionProblem(assumptions);
  if (problem) throw new UsageError(problem);
  const fixed: Array<[keyof CapacitySettings, number | undefined]> = [
    ['shardCount', integerIn('shard-count', n('shard-count'), 1, LARGEST_CAPACITY_SETTINGS.shardCount)],
    [
      'parallelizationFactor',
      integerIn(
        'parallelization-factor',
        n('parallelization-factor'),
        1,
        LARGEST_CAPACITY_SETTINGS.parallelizationFactor,
      ),
    ],
    ['batchSize', integerIn('batch-size', n('batch-size'), 1, 10_000)],
  ];
  return planCapacity(
    rate,
    assumptions,
    Object.fromEntries(fixed.filter(([, value]) => value !== undefined)),
  );
};

const format = (n: number): string => Math.floor(n).toLocaleString('en-US');

/** The limits as a markdown table: the CLI prints it, and docs/capacity.md holds its output. */
export const limitsTable = (limits: readonly CapacityLimit[]): string =>
  [
    '| limit | events/s | formula | source |',
    '| --- | ---: | --- | --- |',
    ...limits.map(
      (limit) =>
        `| ${limit.name} | ${format(limit.ceiling)} | ${limit.formula} | ${limit.source
          .split(' ')
          .map((url) => `<${url}>`)
          .join(' ')} |`,
    ),
  ].join('\n');

export const formatPlan = (plan: CapacityPlan): string => {
  const { settings, binding, headroom } = plan;
  const verdict =
    headroom >= 1
      ? `headroom ${headroom.toFixed(2)}× over ${format(plan.eventsPerSecond)} events/s`
      : `the rate is above it: ${format(plan.eventsPerSecond)} events/s needs ${(1 / headroom).toFixed(2)}× more (see docs/capacity.md for what raises it)`;
  return [
    `For ${format(plan.eventsPerSecond)} events/s of ${plan.assumptions.itemKb} KB, PutEvents quota ${format(plan.assumptions.putEventsQuota)} requests/s:`,
    '',
    'TransactionalOutbox settings',
    `  shardCount: ${settings.shardCount}  (the reconciler makes ${plan.reconcilerQueriesPerMinute} queries per minute it reads)`,
    `  relay: { parallelizationFactor: ${settings.parallelizationFactor}, batchSize: ${settings.batchSize} }`,
    '',
    limitsTable(plan.limits),
    '',
    `Binding: ${binding.name}, ${format(binding.ceiling)} events/s; ${verdict}.`,
  ].join('\n');
};

/** `dynamodb-outbox capacity <argv>`: returns the exit status. */
export const runCapacity = async (
  argv: readonly string[],
  out: CliOutput = { log: console.log, error: console.error },
): Promise<number> => {
  try {
    const { positionals, values } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        ...NUMBER_FLAGS,
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      out.log(USAGE);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`Unexpected arguments: ${positionals.join(' ')}`);
    const plan = capacityPlanOf(values);
    out.log(values.json ? JSON.stringify(plan, null, 2) : formatPlan(plan));
    return plan.headroom >= 1 ? 0 : 1;
  } catch (error) {
    // parseArgs words an unknown option or a missing value itself.
    if (error instanceof UsageError || (error instanceof Error && 'code' in error)) {
      out.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
};
