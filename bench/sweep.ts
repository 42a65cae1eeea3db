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
 * per event, and the bill per million orders, so that a user can pick a window.
 */

export interface SweepPoint {
  readonly ordersPerSecond: number;
  readonly windowSeconds: number;
  readonly events: number;
  readonly relay: Summary;
  readonly samples: number[];
  readonly invocationsPerEvent: number;
  readonly putEventsCallsPerEvent: number;
  readonly receiptsPerEvent: number;
  readonly usdPerMillionOrders: number;
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

export const benchSweep = async (
  fresh: () => Promise<RelayBenchDeps>,
  options: SweepOptions,
): Promise<SweepPoint[]> => {
  const points: SweepPoint[] = [];
  for (const windowSeconds of options.windows)
    for (const ordersPerSecond of options.rates) {
      const deps = await fresh();
      const ordersTableName = 'bench-sweep-orders';
      await createOutboxTable(deps.dynamoDb.client, ordersTableName, deps.settings.outbox.layout);
      const outboxTableName = await newTimeOrderedTable(deps);
      const side = await lagRun(deps, true, ordersPerSecond, options.seconds, {
        ordersTableName,
        outboxTableName,
        ordersSettings: { ...deps.receiptsOrdersSettings(outboxTableName), tableName: ordersTableName },
        handler: deps.relayHandlers.receipts,
        layout: TIME_ORDERED_TABLE_LAYOUT,
        maximumBatchingWindowSeconds: windowSeconds,
      });
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
        usdPerMillionOrders: costPerMillionOrders(design, options.prices).totalUsd,
      });
      deps.log(
        `sweep ${ordersPerSecond} orders/s, window ${windowSeconds} s: lag p50 ${side.relay.p50.toFixed(0)} ms, ${side.invocationsPerEvent.toFixed(2)} invocations/event`,
      );
      await Promise.all([dropTable(deps, ordersTableName), dropTable(deps, outboxTableName)]);
    }
  return points;
};

export const sweepMarkdown = (points: readonly SweepPoint[], seconds: number): string =>
  [
    '# Sweep: receipts on a time-ordered table, by order rate and batching window',
    '',
    `Orders through the API handler at each rate for ${seconds} s, the relay (receipts) and its stream poller against DynamoDB Local and a local EventBridge endpoint. Lag is commit → accepted by EventBridge. Cost per million orders as in the main report (API lines priced at a nominal handler duration).`,
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
  ].join('\n');
