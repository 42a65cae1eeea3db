import { loadavg } from 'node:os';
import { predictRelay } from '../packages/dynamodb-outbox/src/cli/capacity-model';
import { createOutboxTable } from '../packages/dynamodb-outbox/src/local/dynamodb';
import { TIME_ORDERED_TABLE_LAYOUT } from '../packages/dynamodb-outbox/src/runtime/layout';
import { costPerMillionOrders, type DesignUsage } from './cost-model';
import { itemBytes, standardWriteUnits } from './dynamodb-units';
import type { PriceTable } from './prices';
import { dropTable, lagRun, newTimeOrderedTable, type RelayBenchDeps, scanReceipts } from './relay';
import { markdownTable, num, usd } from './report';
import type { Summary } from './stats';

/*
 * `npm run bench -- --sweep`: the chosen design (receipts on a time-ordered table) at several
 * order rates, with the batching window at 0 and 1 s: lag, relay invocations and PutEvents calls
 * per event, and the bill per million orders, so that a user can pick a window. Beside each
 * measured point, what the capacity model (`predictRelay`, the module behind `dynamodb-outbox
 * capacity`) predicts from the rate, the window and the measured invocation time.
 */

/** What the model predicts for a point. */
export type SweepPrediction = ReturnType<typeof predictRelay>;

export interface SweepPoint {
  readonly ordersPerSecond: number;
  readonly windowSeconds: number;
  readonly events: number;
  readonly relay: Summary;
  readonly samples: number[];
  readonly invocationsPerEvent: number;
  readonly putEventsCallsPerEvent: number;
  readonly receiptsPerEvent: number;
  /** Write units of the receipts, per event (standard writes, 1 per started KB). */
  readonly receiptWriteUnitsPerEvent: number;
  /** Median duration of a relay invocation, ms. */
  readonly invocationMs: number;
  readonly usdPerMillionOrders: number;
  readonly model: SweepPrediction;
}

export interface SweepOptions {
  readonly rates: readonly number[];
  readonly windows: readonly number[];
  readonly seconds: number;
  readonly prices: PriceTable;
  /** API function duration and memory to price the API lines with (not measured by the sweep). */
  readonly apiFunction: { readonly durationMs: number; readonly memoryMb: number };
  readonly relayMemoryMb: number;
  /** Write units of one order's transaction (order + outbox item on the time-ordered table). */
  readonly apiWriteUnits: number;
}

/** A point the machine could not run to the end (the relay never caught up in time): why. */
export interface SweepUnfinished {
  readonly ordersPerSecond: number;
  readonly windowSeconds: number;
  readonly reason: string;
}

export const benchSweep = async (
  fresh: () => Promise<RelayBenchDeps>,
  options: SweepOptions,
): Promise<{ points: SweepPoint[]; unfinished: SweepUnfinished[] }> => {
  const points: SweepPoint[] = [];
  const unfinished: SweepUnfinished[] = [];
  for (const windowSeconds of options.windows)
    for (const ordersPerSecond of options.rates) {
      const deps = await fresh();
      const ordersTableName = 'bench-sweep-orders';
      await createOutboxTable(deps.dynamoDb.client, ordersTableName, deps.settings.outbox.layout);
      const outboxTableName = await newTimeOrderedTable(deps);
      // The highest rates are past what this machine sustains: a point that times out is reported
      // as such, and the sweep goes on (each point has a fresh DynamoDB Local).
      const side = await lagRun(deps, true, ordersPerSecond, options.seconds, {
        ordersTableName,
        outboxTableName,
        ordersSettings: { ...deps.receiptsOrdersSettings(outboxTableName), tableName: ordersTableName },
        handler: deps.relayHandlers.receipts,
        layout: TIME_ORDERED_TABLE_LAYOUT,
        maximumBatchingWindowSeconds: windowSeconds,
      }).catch((error: unknown) => {
        // The first failure says what gave way (an order's error names it).
        const cause =
          error instanceof Error && error.cause instanceof Error ? `; first: ${error.cause.message}` : '';
        const reason = `${error instanceof Error ? error.message : String(error)}${cause}`;
        unfinished.push({ ordersPerSecond, windowSeconds, reason });
        deps.log(`sweep ${ordersPerSecond} orders/s, window ${windowSeconds} s: did not finish: ${reason}`);
        return undefined;
      });
      if (side === undefined) continue;
      const receipts = await scanReceipts(deps, outboxTableName, TIME_ORDERED_TABLE_LAYOUT);
      const events = side.relaySamples.length + 1;
      const receiptUnits = receipts.reduce((sum, r) => sum + standardWriteUnits(itemBytes(r)), 0) / events;
      const design: DesignUsage = {
        key: 'sweep',
        name: 'sweep',
        apiRequestsPerOrder: 1,
        apiFunction: { invocationsPerOrder: 1, ...options.apiFunction },
        writeUnitsPerOrder: options.apiWriteUnits + receiptUnits,
        relayFunction: {
          invocationsPerOrder: side.invocationsPerEvent,
          durationMs: side.invocationMs,
          memoryMb: options.relayMemoryMb,
        },
        busEventsPerOrder: 1,
        pipesRequestsPerOrder: 0,
        streamReadsPerOrder: 0,
      };
      points.push({
        ordersPerSecond,
        windowSeconds,
        events: side.relaySamples.length,
        relay: side.relay,
        samples: side.relaySamples,
        invocationsPerEvent: side.invocationsPerEvent,
        putEventsCallsPerEvent: side.putEventsCallsPerEvent,
        receiptsPerEvent: receipts.length / events,
        receiptWriteUnitsPerEvent: receiptUnits,
        invocationMs: side.invocationMs,
        usdPerMillionOrders: costPerMillionOrders(design, options.prices).totalUsd,
        // One event per order; the invocation time is the model's input, not its prediction.
        model: predictRelay({
          eventsPerSecond: ordersPerSecond,
          batchSize: deps.settings.batchSize,
          windowSeconds,
          invocationMs: side.invocationMs,
        }),
      });
      deps.log(
        `sweep ${ordersPerSecond} orders/s, window ${windowSeconds} s: lag p50 ${side.relay.p50.toFixed(0)} ms, ${side.invocationsPerEvent.toFixed(2)} invocations/event`,
      );
      await Promise.all([dropTable(deps, ordersTableName), dropTable(deps, outboxTableName)]);
    }
  return { points, unfinished };
};

/** Measured ÷ predicted, for each quantity the model predicts. */
const RATIOS = [
  ['invocations/event', (p: SweepPoint) => p.invocationsPerEvent / p.model.invocationsPerEvent],
  ['PutEvents calls/event', (p: SweepPoint) => p.putEventsCallsPerEvent / p.model.putEventsCallsPerEvent],
  ['receipts/event', (p: SweepPoint) => p.receiptsPerEvent / p.model.receiptsPerEvent],
  [
    'receipt write units/event',
    (p: SweepPoint) => p.receiptWriteUnitsPerEvent / p.model.receiptWriteUnitsPerEvent,
  ],
  ['lag p50', (p: SweepPoint) => p.relay.p50 / p.model.lagMs],
] as const;

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

/** The 1-, 5- and 15-minute load averages, as `uptime` prints them. */
export const loadAverages = (): string =>
  loadavg()
    .map((load) => load.toFixed(2))
    .join(', ');

export const sweepMarkdown = (
  points: readonly SweepPoint[],
  seconds: number,
  load: { readonly atStart: string; readonly atEnd: string } = { atStart: 'unknown', atEnd: 'unknown' },
  unfinished: readonly SweepUnfinished[] = [],
): string => {
  const pair = (measured: number, predicted: number, digits: number) =>
    `${num(measured, digits)} / ${num(predicted, digits)}`;
  const off = points.flatMap((p) =>
    RATIOS.filter(([, ratio]) => ratio(p) > 2 || ratio(p) < 0.5).map(
      ([name, ratio]) =>
        `${name} at ${num(p.ordersPerSecond)}/s, window ${num(p.windowSeconds)} s (×${num(ratio(p), 2)})`,
    ),
  );
  return [
    '# Sweep: receipts on a time-ordered table, by order rate and batching window',
    '',
    `Orders through the API handler at each rate for ${seconds} s, the relay (receipts) and its stream poller against DynamoDB Local and a local EventBridge endpoint. Lag is commit → accepted by EventBridge. Cost per million orders as in the main report (API lines priced at a nominal handler duration). Load average (1, 5, 15 min, as \`uptime\` prints it) at the start: ${load.atStart}; at the end: ${load.atEnd}.`,
    '',
    markdownTable(
      [
        'orders/s',
        'batching window s',
        'events',
        'lag p50 ms',
        'lag p99 ms',
        'invocations/event',
        'PutEvents calls/event',
        'receipts/event',
        '$ per million orders',
      ],
      points.map((p) => [
        num(p.ordersPerSecond),
        num(p.windowSeconds),
        num(p.events),
        num(p.relay.p50),
        num(p.relay.p99),
        num(p.invocationsPerEvent, 3),
        num(p.putEventsCallsPerEvent, 3),
        num(p.receiptsPerEvent, 3),
        usd(p.usdPerMillionOrders),
      ]),
    ),
    '',
    '## Measured / predicted by the capacity model',
    '',
    "The model (`predictRelay` in packages/dynamodb-outbox/src/cli/capacity-model.ts, the module behind `dynamodb-outbox capacity` and docs/capacity.md) takes the rate, the batch size, the window and the measured median invocation time, and predicts the rest: events per invocation from the poller's reads (every 250 ms, or one per invocation when invocations take longer) or the window, then calls, receipts and write units per event (the outbox item's 2 units per KB are the same on both sides and left out), and lag as the wait for the poll that finds an event, half the time its batch gathers, and the invocation.",
    '',
    markdownTable(
      [
        'orders/s',
        'window s',
        'invocation ms',
        'invocations/event',
        'PutEvents calls/event',
        'receipts/event',
        'receipt write units/event',
        'lag p50 ms',
      ],
      points.map((p) => [
        num(p.ordersPerSecond),
        num(p.windowSeconds),
        num(p.invocationMs),
        pair(p.invocationsPerEvent, p.model.invocationsPerEvent, 3),
        pair(p.putEventsCallsPerEvent, p.model.putEventsCallsPerEvent, 3),
        pair(p.receiptsPerEvent, p.model.receiptsPerEvent, 3),
        pair(p.receiptWriteUnitsPerEvent, p.model.receiptWriteUnitsPerEvent, 3),
        pair(p.relay.p50, p.model.lagMs, 0),
      ]),
    ),
    '',
    `Median ratio measured ÷ predicted over the ${points.length} points: ${RATIOS.map(
      ([name, ratio]) => `${name} ${num(median(points.map(ratio)), 2)}`,
    ).join(', ')}.`,
    '',
    off.length === 0
      ? 'The model is within a factor of 2 of every measured point.'
      : `Off by more than a factor of 2: ${off.join('; ')}.`,
    '',
    ...unfinished.map(
      (u) =>
        `Did not finish on this machine: ${num(u.ordersPerSecond)} orders/s, window ${num(u.windowSeconds)} s (${u.reason}).\n`,
    ),
  ].join('\n');
};
