import { describe, expect, it } from 'vitest';
import {
  type CostInputs,
  costPerMillionOrders,
  type DesignUsage,
  designsFromInputs,
} from '../../../bench/cost-model';
import { PRICES, type PriceTable } from '../../../bench/prices';

const price = (usd: number, unit: string) => ({ usd, unit, metering: '', source: 'https://example.com' });

// Round prices so every expected figure can be checked by hand.
const prices: PriceTable = {
  region: 'test-1',
  currency: 'USD',
  checkedOn: '2026-01-01',
  prices: {
    apiGatewayHttpRequest: price(1e-6, 'request'),
    lambdaRequest: price(2e-7, 'invocation'),
    lambdaArmGbSecond: price(1e-5, 'GB-s'),
    dynamoDbWriteRequestUnit: price(5e-7, 'WRU'),
    dynamoDbReadRequestUnit: price(1e-7, 'RRU'),
    dynamoDbStreamsReadRequest: price(2e-7, 'stream read'),
    eventBridgeCustomEvent: price(1e-6, 'event'),
    eventBridgePipesRequest: price(4e-7, 'pipes request'),
    sqsRequest: price(4e-7, 'SQS request'),
  },
};

const design: DesignUsage = {
  key: 'd',
  name: 'design',
  apiRequestsPerOrder: 1,
  apiFunction: { invocationsPerOrder: 1, durationMs: 9.2, memoryMb: 512 },
  writeUnitsPerOrder: 7,
  relayFunction: { invocationsPerOrder: 0.01, durationMs: 40, memoryMb: 1024 },
  busEventsPerOrder: 1,
  pipesRequestsPerOrder: 0,
  streamReadsPerOrder: 0,
};

const usdOf = (breakdown: ReturnType<typeof costPerMillionOrders>, item: string): number | undefined =>
  breakdown.lines.find((l) => l.item === item)?.usd;

describe('costPerMillionOrders', () => {
  it('prices each line as quantity per million orders times its unit price', () => {
    // Act
    const cost = costPerMillionOrders(design, prices);
    // Assess
    expect(usdOf(cost, 'API Gateway HTTP API requests')).toBeCloseTo(1);
    expect(usdOf(cost, 'API function invocations')).toBeCloseTo(0.2);
    // 1 M × 0.5 GB × 0.010 s (9.2 ms billed as 10 ms) = 5,000 GB-s
    expect(usdOf(cost, 'API function compute')).toBeCloseTo(0.05);
    expect(usdOf(cost, 'DynamoDB writes')).toBeCloseTo(3.5);
    // 10,000 invocations × 1 GB × 0.04 s = 400 GB-s
    expect(usdOf(cost, 'Relay function invocations')).toBeCloseTo(0.002);
    expect(usdOf(cost, 'Relay function compute')).toBeCloseTo(0.004);
    expect(usdOf(cost, 'EventBridge custom events')).toBeCloseTo(1);
    expect(cost.totalUsd).toBeCloseTo(1 + 0.2 + 0.05 + 3.5 + 0.002 + 0.004 + 1);
  });

  it('keeps relay lines at zero for a design without a relay function', () => {
    const { relayFunction: _none, ...withoutRelay } = design;
    const cost = costPerMillionOrders({ ...withoutRelay, pipesRequestsPerOrder: 1 }, prices);
    expect(usdOf(cost, 'Relay function invocations')).toBe(0);
    expect(usdOf(cost, 'Relay function compute')).toBe(0);
    expect(usdOf(cost, 'EventBridge Pipes requests')).toBeCloseTo(0.4);
  });
});

describe('designsFromInputs', () => {
  const inputs: CostInputs = {
    eventsPerOrder: 1,
    chunksPerEvent: 1,
    apiFunction: { durationMs: 10, memoryMb: 512 },
    relayMemoryMb: 512,
    apiWriteUnits: { trackingOn: 5, trackingOff: 4 },
    trackingWriteUnitsPerEvent: 2,
    relay: {
      trackingOn: { label: 'full', eventsPerInvocation: 100, durationMs: 80 },
      trackingOnLight: { label: 'light', eventsPerInvocation: 4, durationMs: 20 },
      trackingOff: { label: 'full', eventsPerInvocation: 100, durationMs: 30 },
      unfilteredBatchOfOne: { invocationsPerOrder: 3, durationMs: 2 },
    },
    receipts: {
      apiWriteUnits: 4,
      writeUnitsPerEvent: 0.05,
      relay: { label: 'full', eventsPerInvocation: 100, durationMs: 40 },
    },
    recordsPerStreamRead: 1000,
    streamRecordsPerOrder: 3,
  };

  it('adds the tracking writes per event to the tracked designs only', () => {
    // Act
    const designs = designsFromInputs(inputs);
    // Assess
    const writes = Object.fromEntries(designs.map((d) => [d.key, d.writeUnitsPerOrder]));
    expect(writes).toEqual({
      'relay-tracking-on': 7,
      'relay-tracking-on-light': 7,
      'relay-receipts': 4.05,
      'relay-tracking-off': 4,
      'unfiltered-batch-1': 4,
      pipes: 4,
    });
  });

  it('invokes the relay once per batch, the unfiltered relay once per stream record, Pipes never', () => {
    const designs = Object.fromEntries(designsFromInputs(inputs).map((d) => [d.key, d]));
    expect(designs['relay-tracking-on']?.relayFunction?.invocationsPerOrder).toBeCloseTo(0.01);
    expect(designs['relay-tracking-on-light']?.relayFunction?.invocationsPerOrder).toBeCloseTo(0.25);
    expect(designs['unfiltered-batch-1']?.relayFunction?.invocationsPerOrder).toBe(3);
    expect(designs.pipes?.relayFunction).toBeUndefined();
    expect(designs.pipes?.pipesRequestsPerOrder).toBe(1);
    expect(designs.pipes?.streamReadsPerOrder).toBeCloseTo(0.003);
  });

  it('prices every design with the same bus and API lines', () => {
    const costs = designsFromInputs(inputs).map((d) => costPerMillionOrders(d, PRICES));
    const bus = costs.map((c) => usdOf(c, 'EventBridge custom events'));
    const api = costs.map((c) => usdOf(c, 'API Gateway HTTP API requests'));
    expect(new Set(bus).size).toBe(1);
    expect(new Set(api).size).toBe(1);
  });
});
