import { randomUUID } from 'node:crypto';
import { type AttributeValue, DeleteTableCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { OrdersSettings } from '../lambdas/orders/config';
import { buildOrdersHandler } from '../lambdas/orders/wiring';
import {
  createOutboxTable,
  type DynamoDbLocal,
  localDynamoDbClient,
} from '../packages/dynamodb-outbox/src/local/dynamodb';
import { latestStreamArn } from '../packages/dynamodb-outbox/src/local/stream-poller';
import {
  type OutboxLayout,
  relayFilterPattern,
  TIME_ORDERED_TABLE_LAYOUT,
} from '../packages/dynamodb-outbox/src/runtime/layout';
import { BaselineRelay } from './baseline-relay';
import { itemBytes, standardWriteUnits, transactionalWriteUnits } from './dynamodb-units';
import { type BusProbe, type Invocation, RelayConsumer, type RelayHandler, type Signal } from './harness';
import { localEventBridgeClient, localStreamsClient } from './local-clients';
import { type ApiFunction, captureOrderTransactions, placeOrder, writeItemsInBulk } from './orders-load';
import { onTransactionCommitted, outboxEventIds } from './sdk-hooks';
import type { RelaySettings } from './settings';
import { median, pairedRatio, type Summary, summarize } from './stats';

/*
 * The relay against its baseline, both reading the same DynamoDB Local stream and publishing to a
 * local EventBridge endpoint through the real EventBridge client:
 * - drain: a backlog of outbox items already in the stream, consumed as fast as each can;
 * - lag: orders placed at a steady rate through the API handler while both consume, measuring
 *   commit (TransactWriteItems answered) → accepted by the endpoint, per event.
 * With delivery tracking on and off: the API writes the items accordingly, and the relay that
 * reads them runs with the same setting.
 */

export interface RelayBenchDeps {
  readonly dynamoDb: DynamoDbLocal;
  readonly signal: Signal;
  /** Endpoint the relay handlers publish to (their EventBridge client reads it from the environment). */
  readonly relayBus: BusProbe;
  readonly baselineBus: BusProbe;
  readonly relayHandlers: {
    readonly trackingOn: RelayHandler;
    readonly trackingOff: RelayHandler;
    /** Tracking with receipts, configured for `receiptsTableName` (a time-ordered outbox table). */
    readonly receipts: RelayHandler;
    /**
     * Tracking off, in a container of its own: the unfiltered counter-example reads a stream the
     * tracking-off relay already published, and that container would skip what it knows it sent.
     */
    readonly unfiltered: RelayHandler;
  };
  /** The time-ordered outbox table the receipts relay reads and writes its receipts to. */
  readonly receiptsTableName: string;
  /** The API's settings with its outbox on a time-ordered table (`outboxTableName`), tracking on. */
  readonly receiptsOrdersSettings: (outboxTableName: string) => OrdersSettings;
  readonly settings: RelaySettings;
  readonly api: ApiFunction;
  /** The API's settings for an orders table, with delivery tracking on or off. */
  readonly ordersSettings: (tableName: string, deliveryTracking: boolean) => OrdersSettings;
  /**
   * The table the tracking relay writes receipts to: its handler reads its settings once, at import,
   * as in Lambda. Tables for tracked runs get this name, one at a time.
   */
  readonly trackedTableName: string;
  /** The bus name and source the relay publishes with; the baseline uses the same. */
  readonly eventBusName: string;
  readonly eventSource: string;
  readonly log: (message: string) => void;
}

export interface ConsumerRun {
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  readonly putEventsCalls: number;
  /** Relay only. */
  readonly invocations?: number;
  readonly invocationMs?: Summary;
}

export interface DrainSide {
  readonly relay: ConsumerRun[];
  readonly baseline: ConsumerRun[];
  readonly relayEventsPerSecond: number;
  readonly baselineEventsPerSecond: number;
  /** relay ÷ baseline drain rate, paired by round. */
  readonly ratio: number;
  readonly putEventsCallsPerEvent: number;
  readonly invocationsPerEvent: number;
  readonly invocationMs: number;
}

/** A drain with delivery tracking: what the relay's receipts cost. */
export interface TrackedDrainSide extends DrainSide {
  /** Receipt items the relay wrote per event (write requests per event). */
  readonly receiptsPerEvent: number;
  /** Their write units per event, by AWS's rules (1 per started KB). */
  readonly receiptWriteUnitsPerEvent: number;
  /** Median size of one receipt. */
  readonly receiptBytes: number;
}

export interface ReceiptsDrainSide extends TrackedDrainSide {
  /** Write units of the API's transaction with its outbox item on the time-ordered table (AWS rules). */
  readonly apiWriteUnitsPerOrder: number;
}

export interface DrainResult {
  readonly backlog: number;
  readonly rounds: number;
  /** The orders table (same-table layout): receipts, and a time index entry per item. */
  readonly trackingOn: TrackedDrainSide;
  readonly trackingOff: DrainSide;
  /** The default layout: receipts on a time-ordered outbox table, the real relay against the plain loop. */
  readonly receipts: ReceiptsDrainSide;
}

export interface LagSide {
  readonly relay: Summary;
  readonly baseline: Summary;
  readonly relaySamples: number[];
  readonly baselineSamples: number[];
  readonly invocationsPerEvent: number;
  readonly eventsPerInvocation: number;
  readonly putEventsCallsPerEvent: number;
  readonly invocationMs: number;
}

export interface LagResult {
  readonly ordersPerSecond: number;
  readonly seconds: number;
  readonly events: number;
  readonly trackingOn: LagSide;
  readonly trackingOff: LagSide;
}

const DRAIN_TIMEOUT_MS = 300_000;

/** A fresh orders table; a tracked one under the name the tracking relay was configured with. */
export const newTable = async (deps: RelayBenchDeps, purpose: string, tracking: boolean): Promise<string> => {
  const name = tracking ? deps.trackedTableName : `bench-${purpose}-${randomUUID().slice(0, 8)}`;
  await createOutboxTable(deps.dynamoDb.client, name, deps.settings.outbox.layout);
  return name;
};

export const dropTable = (deps: RelayBenchDeps, name: string): Promise<unknown> =>
  deps.dynamoDb.client.send(new DeleteTableCommand({ TableName: name }));

const invocationSummary = (invocations: readonly Invocation[]): Summary | undefined =>
  invocations.length > 0 ? summarize(invocations.map((i) => i.ms)) : undefined;

export interface RelayRunOptions {
  readonly batchSize?: number;
  readonly filterPatterns?: readonly string[];
  /** Also wait until the relay has been invoked this often (an unfiltered relay idles on records it drops). */
  readonly waitForInvocations?: number;
  /** @default DRAIN_TIMEOUT_MS */
  readonly timeoutMs?: number;
  /** @default the tracking-on or tracking-off handler */
  readonly handler?: RelayHandler;
}

/** A time-ordered outbox table as the construct creates it: its own key, a stream, no index. */
export const newTimeOrderedTable = async (deps: RelayBenchDeps): Promise<string> => {
  await createOutboxTable(deps.dynamoDb.client, deps.receiptsTableName, TIME_ORDERED_TABLE_LAYOUT);
  return deps.receiptsTableName;
};

/** Every receipt in `tableName`, as stored (either layout: receipts sit under `RECEIPT#<minute>`). */
export const scanReceipts = async (
  deps: RelayBenchDeps,
  tableName: string,
  layout: OutboxLayout,
): Promise<Record<string, AttributeValue>[]> => {
  const receipts: Record<string, AttributeValue>[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await deps.dynamoDb.client.send(
      new ScanCommand({ TableName: tableName, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }),
    );
    for (const item of page.Items ?? [])
      if (item[layout.partitionKey]?.S?.startsWith('RECEIPT#')) receipts.push(item);
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return receipts;
};

/**
 * Run the relay with the deployed mapping settings over `tableName`'s stream until `expected`
 * events are accepted and the invocation that sent the last one has returned (with tracking,
 * that includes writing its batch's receipt). Returns the stopped consumer and the seconds taken.
 */
export const runRelay = async (
  deps: RelayBenchDeps,
  tableName: string,
  tracking: boolean,
  expected: number,
  options: RelayRunOptions = {},
): Promise<{ consumer: RelayConsumer; seconds: number }> => {
  const probe = deps.relayBus;
  probe.reset();
  const streams = localStreamsClient(deps.dynamoDb.endpoint);
  const consumer = new RelayConsumer({
    streams,
    streamArn: await latestStreamArn(deps.dynamoDb.client, tableName),
    handler: options.handler ?? (tracking ? deps.relayHandlers.trackingOn : deps.relayHandlers.trackingOff),
    settings: deps.settings,
    signal: deps.signal,
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    ...(options.filterPatterns === undefined ? {} : { filterPatterns: options.filterPatterns }),
  });
  const started = performance.now();
  consumer.start();
  try {
    await deps.signal.until(
      () =>
        probe.distinct >= expected &&
        consumer.idle &&
        consumer.invocations.length >= (options.waitForInvocations ?? 0),
      options.timeoutMs ?? DRAIN_TIMEOUT_MS,
      () =>
        `the relay to publish ${expected} events (accepted ${probe.distinct}, poller ${JSON.stringify(consumer.stats)})`,
    );
  } finally {
    await consumer.stop();
    streams.destroy();
  }
  return { consumer, seconds: (performance.now() - started) / 1000 };
};

/** Consume `expected` events already in `tableName`'s stream with the relay, timing it. */
const drainWithRelay = async (
  deps: RelayBenchDeps,
  tableName: string,
  tracking: boolean,
  expected: number,
  options: RelayRunOptions = {},
): Promise<ConsumerRun> => {
  const probe = deps.relayBus;
  const { consumer, seconds } = await runRelay(deps, tableName, tracking, expected, options);
  if (consumer.log.errors > 0 || consumer.discarded > 0)
    throw new Error(`The relay reported errors while draining: ${consumer.log.firstMessages.join('; ')}`);
  const invocationMs = invocationSummary(consumer.invocations);
  return {
    events: probe.distinct,
    seconds,
    eventsPerSecond: probe.distinct / seconds,
    putEventsCalls: probe.bus.stats.calls,
    invocations: consumer.invocations.length,
    ...(invocationMs ? { invocationMs } : {}),
  };
};

const baselineFor = (
  deps: RelayBenchDeps,
  streams: DynamoDBStreamsClient,
  streamArn: string,
  eventBridge: EventBridgeClient,
  layout: OutboxLayout = deps.settings.outbox.layout,
) =>
  new BaselineRelay({
    streams,
    streamArn,
    layout,
    eventBridge,
    eventBusName: deps.eventBusName,
    source: deps.eventSource,
    // The relay's poller polls an idle shard as often as Lambda does; the baseline too.
    pollIntervalMs: 250,
    // As many PutEvents calls in flight as the relay's publisher allows itself.
    concurrency: 10,
    onPublished: () => deps.signal.notify(),
  });

const eventBridgeClient = (endpoint: string): EventBridgeClient => localEventBridgeClient(endpoint);

const drainWithBaseline = async (
  deps: RelayBenchDeps,
  tableName: string,
  expected: number,
  layout?: OutboxLayout,
): Promise<ConsumerRun> => {
  const probe = deps.baselineBus;
  probe.reset();
  const streams = localStreamsClient(deps.dynamoDb.endpoint);
  const eventBridge = eventBridgeClient(probe.endpoint);
  const baseline = baselineFor(
    deps,
    streams,
    await latestStreamArn(deps.dynamoDb.client, tableName),
    eventBridge,
    layout,
  );
  const started = performance.now();
  await baseline.start();
  try {
    await deps.signal.until(
      () => baseline.stats.published >= expected,
      DRAIN_TIMEOUT_MS,
      () => `the baseline to drain ${expected} events (${JSON.stringify(baseline.stats)})`,
    );
  } finally {
    await baseline.stop();
    streams.destroy();
    eventBridge.destroy();
  }
  const seconds = (performance.now() - started) / 1000;
  if (baseline.stats.failedEntries > 0)
    throw new Error(`The baseline had ${baseline.stats.failedEntries} failed entries`);
  return {
    events: baseline.stats.published,
    seconds,
    eventsPerSecond: baseline.stats.published / seconds,
    putEventsCalls: baseline.stats.putEventsCalls,
  };
};

const side = (relay: ConsumerRun[], baseline: ConsumerRun[]): DrainSide => {
  const rates = (runs: readonly ConsumerRun[]) => runs.map((r) => r.eventsPerSecond);
  const relayRates = rates(relay);
  const events = relay.reduce((sum, r) => sum + r.events, 0);
  return {
    relay,
    baseline,
    relayEventsPerSecond: median(relayRates),
    baselineEventsPerSecond: median(rates(baseline)),
    ratio: pairedRatio(relayRates, rates(baseline)),
    putEventsCallsPerEvent: relay.reduce((sum, r) => sum + r.putEventsCalls, 0) / events,
    invocationsPerEvent: relay.reduce((sum, r) => sum + (r.invocations ?? 0), 0) / events,
    invocationMs: median(relay.flatMap((r) => (r.invocationMs ? [r.invocationMs.p50] : []))),
  };
};

/** What the relay's receipts in a drained table cost, over the drains measured. */
class ReceiptTally {
  private readonly sizes: number[] = [];
  private items = 0;
  private units = 0;
  private events = 0;

  add(receipts: readonly Record<string, AttributeValue>[], events: number): void {
    this.items += receipts.length;
    this.events += events;
    for (const receipt of receipts) {
      this.sizes.push(itemBytes(receipt));
      this.units += standardWriteUnits(itemBytes(receipt));
    }
  }

  figures(): Pick<TrackedDrainSide, 'receiptsPerEvent' | 'receiptWriteUnitsPerEvent' | 'receiptBytes'> {
    return {
      receiptsPerEvent: this.items / Math.max(1, this.events),
      receiptWriteUnitsPerEvent: this.units / Math.max(1, this.events),
      receiptBytes: median(this.sizes),
    };
  }
}

/**
 * Drain rounds, each on a fresh DynamoDB Local from `fresh`: a DynamoDB Local that has taken tens
 * of thousands of writes (deleted tables included) slows down, and later rounds would pay for it.
 */
export const benchDrain = async (
  backlog: number,
  rounds: number,
  warmUp: boolean,
  fresh: () => Promise<RelayBenchDeps>,
): Promise<DrainResult> => {
  type Consumer = 'relay' | 'baseline';
  const runs = new Map<string, ConsumerRun[]>();
  const record = (mode: string, consumer: Consumer, run: ConsumerRun): void => {
    runs.set(`${mode}/${consumer}`, [...(runs.get(`${mode}/${consumer}`) ?? []), run]);
  };
  const runsOf = (mode: string, consumer: Consumer): ConsumerRun[] => runs.get(`${mode}/${consumer}`) ?? [];
  // The receipts relay reads a time-ordered table: its own handler, and the filter of its layout.
  const receiptsRelay = (deps: RelayBenchDeps): RelayRunOptions => ({
    handler: deps.relayHandlers.receipts,
    filterPatterns: [JSON.stringify(relayFilterPattern(TIME_ORDERED_TABLE_LAYOUT))],
  });
  const tallies = { on: new ReceiptTally(), receipts: new ReceiptTally() };
  const apiUnits: number[] = [];
  // With `warmUp`, an unrecorded round with a tenth of the backlog comes first: the JVM behind
  // DynamoDB Local and every code path are warm before the first measured drain.
  for (let round = warmUp ? -1 : 0; round < rounds; round++) {
    const size = round < 0 ? Math.max(100, Math.round(backlog / 10)) : backlog;
    const deps = await fresh();
    const tables = { on: '', off: '', receipts: '' };
    for (const mode of ['on', 'off'] as const) {
      tables[mode] = await newTable(deps, `drain-${mode}`, mode === 'on');
      const settings = deps.ordersSettings(tables[mode], mode === 'on');
      const transactions = await captureOrderTransactions(settings, size, deps.api, (round + 1) * backlog);
      await writeItemsInBulk(deps.dynamoDb.client, tables[mode], transactions);
    }
    // The chosen design: the same orders, their outbox items on a time-ordered table.
    tables.receipts = await newTimeOrderedTable(deps);
    const receiptsOrders = await captureOrderTransactions(
      deps.receiptsOrdersSettings(tables.receipts),
      size,
      deps.api,
      (round + 1) * backlog,
    );
    for (const t of receiptsOrders)
      apiUnits.push(
        (t.TransactItems ?? []).reduce(
          (sum, i) =>
            sum +
            (i.Put?.Item
              ? transactionalWriteUnits(itemBytes(i.Put.Item as Record<string, AttributeValue>))
              : 0),
          0,
        ),
      );
    await writeItemsInBulk(
      deps.dynamoDb.client,
      tables.receipts,
      receiptsOrders.map((t) => ({
        TransactItems: (t.TransactItems ?? []).filter((i) => i.Put?.TableName === tables.receipts),
      })),
    );
    // Rotate which mode and which consumer goes first, so that drift within a round (a noisy
    // machine, a DynamoDB Local filling up) falls on each in turn.
    const modes =
      round % 2 === 0 ? (['on', 'off', 'receipts'] as const) : (['receipts', 'off', 'on'] as const);
    for (const mode of modes) {
      // The relay and the plain loop take turns going first.
      const consumers: Consumer[] = round % 2 === 0 ? ['relay', 'baseline'] : ['baseline', 'relay'];
      for (const consumer of consumers) {
        const run =
          consumer === 'relay'
            ? await drainWithRelay(
                deps,
                tables[mode],
                mode !== 'off',
                size,
                mode === 'receipts' ? receiptsRelay(deps) : {},
              )
            : await drainWithBaseline(
                deps,
                tables[mode],
                size,
                mode === 'receipts' ? TIME_ORDERED_TABLE_LAYOUT : undefined,
              );
        if (round < 0) continue;
        record(mode, consumer, run);
        if (mode !== 'off' && consumer === 'relay') {
          const layout = mode === 'receipts' ? TIME_ORDERED_TABLE_LAYOUT : deps.settings.outbox.layout;
          tallies[mode].add(await scanReceipts(deps, tables[mode], layout), size);
        }
        deps.log(
          `drain round ${round + 1}/${rounds} ${mode === 'receipts' ? 'receipts' : `tracking ${mode}`} ${consumer}: ${run.eventsPerSecond.toFixed(0)} events/s`,
        );
      }
    }
    await Promise.all(Object.values(tables).map((table) => dropTable(deps, table)));
  }
  return {
    backlog,
    rounds,
    trackingOn: { ...side(runsOf('on', 'relay'), runsOf('on', 'baseline')), ...tallies.on.figures() },
    trackingOff: side(runsOf('off', 'relay'), runsOf('off', 'baseline')),
    receipts: {
      ...side(runsOf('receipts', 'relay'), runsOf('receipts', 'baseline')),
      ...tallies.receipts.figures(),
      apiWriteUnitsPerOrder: median(apiUnits),
    },
  };
};

const sleepUntil = (at: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));

const LAG_TIMEOUT_MS = 120_000;

/** Orders at a steady rate through the API handler, both consumers running: per-event lag. */
/** The chosen design in a lag run: orders on their table, outbox items on a time-ordered one. */
export interface LagVariant {
  readonly ordersTableName: string;
  readonly outboxTableName: string;
  readonly ordersSettings: OrdersSettings;
  readonly handler: RelayHandler;
  readonly layout: OutboxLayout;
  readonly maximumBatchingWindowSeconds: number;
}

export const lagRun = async (
  deps: RelayBenchDeps,
  tracking: boolean,
  ordersPerSecond: number,
  seconds: number,
  variant?: LagVariant,
): Promise<LagSide> => {
  const tableName =
    variant?.outboxTableName ?? (await newTable(deps, `lag-${tracking ? 'on' : 'off'}`, tracking));
  const client = localDynamoDbClient(deps.dynamoDb.endpoint);
  const committedAt = new Map<string, number>();
  onTransactionCommitted(client, (input, at) => {
    for (const eventId of outboxEventIds(input)) committedAt.set(eventId, at);
  });
  const handler = buildOrdersHandler({
    settings: variant?.ordersSettings ?? deps.ordersSettings(tableName, tracking),
    clients: { dynamoDb: client },
  });

  // One order before the consumers start: the stream then has its shard, and both consumers are
  // past their start-up when the measured orders arrive.
  await placeOrder(handler, 0, deps.api);
  deps.relayBus.reset();
  deps.baselineBus.reset();
  const streamArn = await latestStreamArn(deps.dynamoDb.client, tableName);
  const relayStreams = localStreamsClient(deps.dynamoDb.endpoint);
  const baselineStreams = localStreamsClient(deps.dynamoDb.endpoint);
  const eventBridge = eventBridgeClient(deps.baselineBus.endpoint);
  const relay = new RelayConsumer({
    streams: relayStreams,
    streamArn,
    handler: variant?.handler ?? (tracking ? deps.relayHandlers.trackingOn : deps.relayHandlers.trackingOff),
    settings: variant
      ? { ...deps.settings, maximumBatchingWindowSeconds: variant.maximumBatchingWindowSeconds }
      : deps.settings,
    signal: deps.signal,
    ...(variant ? { filterPatterns: [JSON.stringify(relayFilterPattern(variant.layout))] } : {}),
  });
  const baseline = baselineFor(deps, baselineStreams, streamArn, eventBridge, variant?.layout);
  relay.start();
  await baseline.start();
  try {
    await deps.signal.until(
      () => deps.relayBus.distinct >= 1 && deps.baselineBus.distinct >= 1 && relay.idle,
      LAG_TIMEOUT_MS,
      () => 'both consumers to publish the first order',
    );
    const warmUp = new Set(committedAt.keys());
    const invocationsBefore = relay.invocations.length;
    const callsBefore = deps.relayBus.bus.stats.calls;

    const count = Math.max(1, Math.round(ordersPerSecond * seconds));
    const interval = 1000 / ordersPerSecond;
    const started = performance.now();
    const placed: Promise<void>[] = [];
    const failures: unknown[] = [];
    for (let i = 0; i < count; i++) {
      await sleepUntil(started + i * interval);
      // Caught at once: an order failing while later ones are still being placed must not go unhandled.
      placed.push(placeOrder(handler, i + 1, deps.api).catch((error: unknown) => void failures.push(error)));
    }
    await Promise.all(placed);
    if (failures.length > 0)
      throw new Error(`${failures.length} of ${count} orders failed during the lag run`, {
        cause: failures[0],
      });
    const total = count + warmUp.size;
    await deps.signal.until(
      () => deps.relayBus.distinct >= total && deps.baselineBus.distinct >= total && relay.idle,
      LAG_TIMEOUT_MS,
      () =>
        `both consumers to publish ${total} events (relay ${deps.relayBus.distinct}, baseline ${deps.baselineBus.distinct})`,
    );

    const measured = [...committedAt.entries()].filter(([eventId]) => !warmUp.has(eventId));
    const lags = (probe: BusProbe): number[] =>
      measured.map(([eventId, at]) => {
        const accepted = probe.acceptedAt(eventId);
        if (accepted === undefined) throw new Error(`Event ${eventId} was never accepted`);
        return accepted - at;
      });
    const relaySamples = lags(deps.relayBus);
    const baselineSamples = lags(deps.baselineBus);
    const invocations = relay.invocations.slice(invocationsBefore);
    if (process.env.BENCH_DEBUG)
      deps.log(
        JSON.stringify({
          stats: relay.stats,
          log: relay.log,
          slow: invocations.filter((i) => i.ms > 200).length,
          failed: invocations.filter((i) => i.failed).length,
        }),
      );
    if (relay.log.errors > 0 || relay.discarded > 0)
      throw new Error(`The relay reported errors: ${relay.log.firstMessages.join('; ')}`);
    return {
      relay: summarize(relaySamples),
      baseline: summarize(baselineSamples),
      relaySamples,
      baselineSamples,
      invocationsPerEvent: invocations.length / measured.length,
      eventsPerInvocation: measured.length / invocations.length,
      putEventsCallsPerEvent: (deps.relayBus.bus.stats.calls - callsBefore) / measured.length,
      invocationMs: median(invocations.map((i) => i.ms)),
    };
  } finally {
    await Promise.all([relay.stop(), baseline.stop()]);
    relayStreams.destroy();
    baselineStreams.destroy();
    eventBridge.destroy();
    client.destroy();
    if (!variant) await dropTable(deps, tableName);
  }
};

export const benchLag = async (
  deps: RelayBenchDeps,
  ordersPerSecond: number,
  seconds: number,
): Promise<LagResult> => {
  const trackingOn = await lagRun(deps, true, ordersPerSecond, seconds);
  deps.log(
    `lag tracking on: relay p50 ${trackingOn.relay.p50.toFixed(0)} ms, baseline p50 ${trackingOn.baseline.p50.toFixed(0)} ms`,
  );
  const trackingOff = await lagRun(deps, false, ordersPerSecond, seconds);
  deps.log(
    `lag tracking off: relay p50 ${trackingOff.relay.p50.toFixed(0)} ms, baseline p50 ${trackingOff.baseline.p50.toFixed(0)} ms`,
  );
  return {
    ordersPerSecond,
    seconds,
    events: trackingOn.relaySamples.length,
    trackingOn,
    trackingOff,
  };
};
