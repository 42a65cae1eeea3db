import type { Price, PriceTable } from './prices';

/**
 * Cost per million orders: usage per order (counted or measured by the benchmark) times list
 * prices. Pure, so every number in the report can be recomputed by hand from the JSON.
 */

export const ORDERS = 1_000_000;

export interface LambdaUsage {
  readonly invocationsPerOrder: number;
  /** Billed duration of one invocation; Lambda rounds up to the millisecond. */
  readonly durationMs: number;
  readonly memoryMb: number;
}

export interface DesignUsage {
  readonly key: string;
  readonly name: string;
  readonly apiRequestsPerOrder: number;
  readonly apiFunction: LambdaUsage;
  /** Every DynamoDB write request unit an order causes: the API's transaction, index entries, tracking. */
  readonly writeUnitsPerOrder: number;
  /** Absent when no function relays (EventBridge Pipes). */
  readonly relayFunction?: LambdaUsage;
  /** 64 KB chunks published to the bus per order. */
  readonly busEventsPerOrder: number;
  readonly pipesRequestsPerOrder: number;
  /** Billed GetRecords calls per order (Lambda's own stream reads are free). */
  readonly streamReadsPerOrder: number;
}

export interface CostLine {
  readonly item: string;
  readonly quantity: number;
  readonly unit: string;
  readonly usd: number;
}

export interface CostBreakdown {
  readonly key: string;
  readonly name: string;
  readonly lines: readonly CostLine[];
  readonly totalUsd: number;
}

const gbSeconds = (usage: LambdaUsage): number =>
  usage.invocationsPerOrder * ORDERS * (usage.memoryMb / 1024) * (Math.ceil(usage.durationMs) / 1000);

const line = (item: string, quantity: number, price: Price): CostLine => ({
  item,
  quantity,
  unit: price.unit,
  usd: quantity * price.usd,
});

/** The bill for one million orders of `design`, line by line. Lines that would be zero are kept at zero. */
export const costPerMillionOrders = (design: DesignUsage, table: PriceTable): CostBreakdown => {
  const p = table.prices;
  const lines: CostLine[] = [
    line('API Gateway HTTP API requests', design.apiRequestsPerOrder * ORDERS, p.apiGatewayHttpRequest),
    line('API function invocations', design.apiFunction.invocationsPerOrder * ORDERS, p.lambdaRequest),
    line('API function compute', gbSeconds(design.apiFunction), p.lambdaArmGbSecond),
    line('DynamoDB writes', design.writeUnitsPerOrder * ORDERS, p.dynamoDbWriteRequestUnit),
    line(
      'Relay function invocations',
      (design.relayFunction?.invocationsPerOrder ?? 0) * ORDERS,
      p.lambdaRequest,
    ),
    line(
      'Relay function compute',
      design.relayFunction ? gbSeconds(design.relayFunction) : 0,
      p.lambdaArmGbSecond,
    ),
    line('EventBridge Pipes requests', design.pipesRequestsPerOrder * ORDERS, p.eventBridgePipesRequest),
    line(
      'DynamoDB Streams reads (billed)',
      design.streamReadsPerOrder * ORDERS,
      p.dynamoDbStreamsReadRequest,
    ),
    line('EventBridge custom events', design.busEventsPerOrder * ORDERS, p.eventBridgeCustomEvent),
  ];
  return {
    key: design.key,
    name: design.name,
    lines,
    totalUsd: lines.reduce((sum, l) => sum + l.usd, 0),
  };
};

/** What the benchmark counted or measured, as the cost model needs it. */
export interface CostInputs {
  /** Events each order publishes (OrderPlaced). */
  readonly eventsPerOrder: number;
  /** 64 KB chunks of one published entry. */
  readonly chunksPerEvent: number;
  readonly apiFunction: { readonly durationMs: number; readonly memoryMb: number };
  readonly relayMemoryMb: number;
  /** Write units of the API's transaction (order + outbox item + index entry when tracked). */
  readonly apiWriteUnits: { readonly trackingOn: number; readonly trackingOff: number };
  /** Write units of recording one event published: its share of the invocation's receipt. */
  readonly trackingWriteUnitsPerEvent: number;
  /** Measured relay invocations: events per invocation and the median duration of one. */
  readonly relay: {
    readonly trackingOn: RelayRegime;
    readonly trackingOnLight: RelayRegime;
    readonly trackingOff: RelayRegime;
    /** No filter, batch size 1: every stream record is an invocation. */
    readonly unfilteredBatchOfOne: { readonly invocationsPerOrder: number; readonly durationMs: number };
  };
  /** The chosen tracking design: receipts per invocation on a time-ordered outbox table. */
  readonly receipts: {
    /** Write units of the API's transaction with its outbox item on that table (no index). */
    readonly apiWriteUnits: number;
    /** Receipt write units per event. */
    readonly writeUnitsPerEvent: number;
    readonly relay: RelayRegime;
  };
  /** Stream records one GetRecords call returns to a non-Lambda reader at full load (up to 1,000). */
  readonly recordsPerStreamRead: number;
  /** Stream records per order that a Pipe reads (before its filter drops the order items). */
  readonly streamRecordsPerOrder: number;
}

export interface RelayRegime {
  readonly label: string;
  readonly eventsPerInvocation: number;
  readonly durationMs: number;
}

/**
 * The designs the report compares. All share the write path; they differ in how events leave
 * the table. The Pipes alternative cannot write back, so it runs without delivery tracking.
 */
export const designsFromInputs = (inputs: CostInputs): DesignUsage[] => {
  const api: LambdaUsage = { invocationsPerOrder: 1, ...inputs.apiFunction };
  const bus = inputs.eventsPerOrder * inputs.chunksPerEvent;
  const relay = (regime: RelayRegime): LambdaUsage => ({
    invocationsPerOrder: inputs.eventsPerOrder / regime.eventsPerInvocation,
    durationMs: regime.durationMs,
    memoryMb: inputs.relayMemoryMb,
  });
  const common = {
    apiRequestsPerOrder: 1,
    apiFunction: api,
    busEventsPerOrder: bus,
    pipesRequestsPerOrder: 0,
  };
  const trackedWrites =
    inputs.apiWriteUnits.trackingOn + inputs.eventsPerOrder * inputs.trackingWriteUnitsPerEvent;
  return [
    {
      key: 'relay-tracking-on',
      name: `Outbox relay, same-table layout: receipts + time index (${inputs.relay.trackingOn.label})`,
      ...common,
      writeUnitsPerOrder: trackedWrites,
      relayFunction: relay(inputs.relay.trackingOn),
      streamReadsPerOrder: 0,
    },
    {
      key: 'relay-tracking-on-light',
      name: `Outbox relay, same-table layout: receipts + time index (${inputs.relay.trackingOnLight.label})`,
      ...common,
      writeUnitsPerOrder: trackedWrites,
      relayFunction: relay(inputs.relay.trackingOnLight),
      streamReadsPerOrder: 0,
    },
    {
      key: 'relay-receipts',
      name: `Outbox relay, tracking with receipts on a time-ordered table (${inputs.receipts.relay.label})`,
      ...common,
      writeUnitsPerOrder:
        inputs.receipts.apiWriteUnits + inputs.eventsPerOrder * inputs.receipts.writeUnitsPerEvent,
      relayFunction: relay(inputs.receipts.relay),
      streamReadsPerOrder: 0,
    },
    {
      key: 'relay-tracking-off',
      name: `Outbox relay, tracking off (${inputs.relay.trackingOff.label})`,
      ...common,
      writeUnitsPerOrder: inputs.apiWriteUnits.trackingOff,
      relayFunction: relay(inputs.relay.trackingOff),
      streamReadsPerOrder: 0,
    },
    {
      key: 'unfiltered-batch-1',
      name: 'Relay without filter, batch size 1',
      ...common,
      writeUnitsPerOrder: inputs.apiWriteUnits.trackingOff,
      relayFunction: {
        invocationsPerOrder: inputs.relay.unfilteredBatchOfOne.invocationsPerOrder,
        durationMs: inputs.relay.unfilteredBatchOfOne.durationMs,
        memoryMb: inputs.relayMemoryMb,
      },
      streamReadsPerOrder: 0,
    },
    {
      key: 'pipes',
      name: 'EventBridge Pipes instead of the relay function',
      ...common,
      writeUnitsPerOrder: inputs.apiWriteUnits.trackingOff,
      pipesRequestsPerOrder: inputs.eventsPerOrder * inputs.chunksPerEvent,
      streamReadsPerOrder: inputs.streamRecordsPerOrder / inputs.recordsPerStreamRead,
    },
  ];
};
