import { describe, expect, it } from 'vitest';
import { cdfPoints, median, pairedRatio, quantile, summarize } from '../../../bench/stats';

describe('quantile', () => {
  it('interpolates linearly between the two nearest ranks', () => {
    // Prepare
    const values = [40, 10, 30, 20];
    // Act
    const p50 = quantile(values, 0.5);
    const p90 = quantile(values, 0.9);
    // Assess: ranks 1.5 and 2.7 of the sorted [10, 20, 30, 40]
    expect(p50).toBe(25);
    expect(p90).toBeCloseTo(37);
  });

  it('returns the extremes at 0 and 1 and the only value of a single sample', () => {
    expect(quantile([3, 1, 2], 0)).toBe(1);
    expect(quantile([3, 1, 2], 1)).toBe(3);
    expect(quantile([7], 0.99)).toBe(7);
  });

  it('refuses an empty sample and a quantile outside 0..1', () => {
    expect(() => quantile([], 0.5)).toThrow(/empty/);
    expect(() => quantile([1], 1.5)).toThrow(/between 0 and 1/);
  });
});

describe('summarize', () => {
  it('reports count, extremes, mean and the usual percentiles without reordering its input', () => {
    // Prepare
    const values = Array.from({ length: 101 }, (_, i) => 100 - i);
    // Act
    const summary = summarize(values);
    // Assess
    expect(summary).toEqual({ count: 101, min: 0, p50: 50, p90: 90, p99: 99, max: 100, mean: 50 });
    expect(values[0]).toBe(100);
  });
});

describe('pairedRatio', () => {
  it('takes the median of the per-round ratios, so one disturbed round does not move it', () => {
    // Prepare: the third round ran while the machine was busy, for both sides alike
    const candidate = [11, 12, 60];
    const baseline = [10, 10, 50];
    // Act
    const ratio = pairedRatio(candidate, baseline);
    // Assess
    expect(ratio).toBeCloseTo(1.2);
    expect(median(candidate) / median(baseline)).toBeCloseTo(1.2);
  });

  it('refuses samples of different lengths', () => {
    expect(() => pairedRatio([1, 2], [1])).toThrow(/same/);
    expect(() => pairedRatio([], [])).toThrow(/same/);
  });
});

describe('cdfPoints', () => {
  it('rises to 1 at the largest value and never has more points than asked for', () => {
    // Prepare
    const values = Array.from({ length: 1000 }, (_, i) => i);
    // Act
    const points = cdfPoints(values, 100);
    // Assess
    expect(points.length).toBeLessThanOrEqual(101);
    expect(points.at(-1)).toEqual([999, 1]);
    for (let i = 1; i < points.length; i++) {
      expect(points[i]?.[0]).toBeGreaterThanOrEqual(points[i - 1]?.[0] ?? 0);
      expect(points[i]?.[1]).toBeGreaterThan(points[i - 1]?.[1] ?? 0);
    }
  });

  it('is empty for no samples', () => {
    expect(cdfPoints([])).toEqual([]);
  });
});
