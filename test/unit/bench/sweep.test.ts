import { describe, expect, it } from 'vitest';
import { type SweepPoint, sweepMarkdown } from '../../../bench/sweep';
import { predictRelay } from '../../../packages/dynamodb-outbox/src/cli/capacity-model';

const summary = (p50: number) => ({
  count: 100,
  min: p50 / 2,
  p50,
  p90: p50,
  p99: p50 * 2,
  max: p50 * 3,
  mean: p50,
});

/** A measured point beside the model's prediction for the same rate, window and invocation time. */
const point = (
  ordersPerSecond: number,
  windowSeconds: number,
  measured: Partial<SweepPoint>,
): SweepPoint => ({
  ordersPerSecond,
  windowSeconds,
  events: ordersPerSecond * 15,
  relay: summary(200),
  samples: [],
  invocationsPerEvent: 0.01,
  putEventsCallsPerEvent: 0.1,
  receiptsPerEvent: 0.01,
  receiptWriteUnitsPerEvent: 0.08,
  invocationMs: 100,
  usdPerMillionOrders: 4.8,
  model: predictRelay({ eventsPerSecond: ordersPerSecond, batchSize: 100, windowSeconds, invocationMs: 100 }),
  ...measured,
});

describe('sweepMarkdown', () => {
  it('prints each point measured / predicted, the median ratios and the points off by more than 2×', () => {
    // Prepare: at 200/s and a 1 s window the model predicts 0.01 invocations, 0.1 calls, 0.01
    // receipts and 0.08 receipt units per event, and 475 ms of lag.
    const points = [
      point(200, 1, { relay: summary(475) }),
      point(200, 1, { invocationsPerEvent: 0.03, relay: summary(950) }),
    ];

    // Act
    const markdown = sweepMarkdown(points, 15, { atStart: '1.00, 2.00, 3.00', atEnd: '4.00, 5.00, 6.00' }, [
      { ordersPerSecond: 800, windowSeconds: 0, reason: 'timed out' },
    ]);

    // Assess
    expect(markdown).toContain('at the start: 1.00, 2.00, 3.00; at the end: 4.00, 5.00, 6.00.');
    expect(markdown).toContain(
      '| 200 | 1 | 100 | 0.010 / 0.010 | 0.100 / 0.100 | 0.010 / 0.010 | 0.080 / 0.080 | 475 / 475 |',
    );
    expect(markdown).toContain(
      '| 200 | 1 | 100 | 0.030 / 0.010 | 0.100 / 0.100 | 0.010 / 0.010 | 0.080 / 0.080 | 950 / 475 |',
    );
    // Medians of (1, 3) and (1, 2).
    expect(markdown).toContain(
      'Median ratio measured ÷ predicted over the 2 points: invocations/event 2.00, PutEvents calls/event 1.00, receipts/event 1.00, receipt write units/event 1.00, lag p50 1.50.',
    );
    expect(markdown).toContain(
      'Off by more than a factor of 2: invocations/event at 200/s, window 1 s (×3.00).',
    );
  });
});
