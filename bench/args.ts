/** Command line of `npm run bench`, and how big each part of a run is. */

export interface Profile {
  readonly name: 'full' | 'quick';
  /**
   * A fresh DynamoDB Local for each write-path level, lag run and drain round, and an unrecorded
   * warm-up drain: it slows down after tens of thousands of writes. Small runs do not need it.
   */
  readonly isolate: boolean;
  readonly writePath: {
    readonly concurrencies: readonly number[];
    readonly rounds: number;
    readonly warmupRequests: number;
    /** Requests per variant per round, by concurrency. */
    readonly requestsPerRound: Readonly<Record<number, number>>;
    readonly http: boolean;
  };
  readonly drain: { readonly backlog: number; readonly rounds: number };
  readonly lag: { readonly ordersPerSecond: number; readonly seconds: number };
  readonly counts: { readonly orders: number };
  /**
   * Rounds of imports, each function beside its minimal handler. A function's own code adds a few
   * tens of milliseconds to about a hundred: on a shared machine it takes a few dozen rounds for
   * the median ratio to settle within a few hundredths.
   */
  readonly coldStart: { readonly runs: number };
}

export const FULL: Profile = {
  name: 'full',
  isolate: true,
  writePath: {
    concurrencies: [1, 8, 32],
    rounds: 5,
    warmupRequests: 100,
    requestsPerRound: { 1: 300, 8: 800, 32: 1600 },
    http: true,
  },
  drain: { backlog: 5000, rounds: 3 },
  lag: { ordersPerSecond: 20, seconds: 30 },
  counts: { orders: 100 },
  coldStart: { runs: 30 },
};

/** Small enough for CI to keep the benchmark code working (under a minute); not for conclusions. */
export const QUICK: Profile = {
  name: 'quick',
  isolate: false,
  writePath: {
    concurrencies: [1, 8, 32],
    rounds: 2,
    warmupRequests: 10,
    requestsPerRound: { 1: 30, 8: 80, 32: 128 },
    http: true,
  },
  drain: { backlog: 300, rounds: 2 },
  lag: { ordersPerSecond: 20, seconds: 3 },
  counts: { orders: 10 },
  coldStart: { runs: 1 },
};

export interface BenchArgs {
  readonly profile: Profile;
  /** Directory the results are written to. */
  readonly outDir: string;
  readonly help: boolean;
  /** Only the sweep of order rates × batching windows (receipts design): sweep.{json,md,svg}. */
  readonly sweep: boolean;
  /** Only the cold-start proxies: cold-start.{json,md}. */
  readonly coldStart: boolean;
  /** Only the saga's end-to-end lag (place → confirmed) offline: saga-lag.{json,md}. */
  readonly saga: boolean;
}

export const USAGE = `Usage: npm run bench [-- --quick] [-- --out <dir>]

  --quick      a small run (under a minute) that keeps the benchmark working, e.g. in CI;
               writes quick.json, quick.md and lag-quick.svg instead of latest.*
  --sweep      only the sweep of order rates (5 to 800 a second) × batching window
               (0 and 1 s) for tracking with receipts: sweep.{json,md,svg} (a few minutes)
  --cold-start only the cold-start proxies, each function's import time against a minimal
               handler's: cold-start.{json,md} (under a minute; one import each with --quick)
  --saga       only the order saga's end-to-end lag (placed → confirmed) p50/p99 through the
               offline runtime: saga-lag.{json,md} (a minute; 20 orders with --quick)
  --out <dir>  where to write the results (default bench/results)
  --help       this text`;

/** A bad command line: printed as its message and the usage, without a stack trace. */
export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError';
}

export const parseArgs = (argv: readonly string[], defaultOutDir: string): BenchArgs => {
  let profile = FULL;
  let outDir = defaultOutDir;
  let help = false;
  let sweep = false;
  let coldStart = false;
  let saga = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') profile = QUICK;
    else if (arg === '--help' || arg === '-h') help = true;
    else if (arg === '--sweep') sweep = true;
    else if (arg === '--cold-start') coldStart = true;
    else if (arg === '--saga') saga = true;
    else if (arg === '--out') {
      const value = argv[++i];
      if (!value || value.startsWith('--')) throw new BenchUsageError('--out needs a directory');
      outDir = value;
    } else if (arg?.startsWith('--out=')) outDir = arg.slice('--out='.length);
    else throw new BenchUsageError(`Unknown argument: ${arg}`);
  }
  if ([sweep, coldStart, saga].filter(Boolean).length > 1)
    throw new BenchUsageError('--sweep, --cold-start and --saga are separate runs: pick one');
  return { profile, outDir, help, sweep, coldStart, saga };
};

/** File names of a run's results: the full run is the one the README shows. */
export const resultFiles = (profile: Profile): { json: string; markdown: string; chart: string } =>
  profile.name === 'full'
    ? { json: 'latest.json', markdown: 'latest.md', chart: 'lag.svg' }
    : { json: 'quick.json', markdown: 'quick.md', chart: 'lag-quick.svg' };

/** File names of a `--cold-start` run's results. */
export const coldStartFiles = (profile: Profile): { json: string; markdown: string } =>
  profile.name === 'full'
    ? { json: 'cold-start.json', markdown: 'cold-start.md' }
    : { json: 'cold-start-quick.json', markdown: 'cold-start-quick.md' };
