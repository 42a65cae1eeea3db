import { describe, expect, it } from 'vitest';
import type { ColdStartEntry } from '../../../bench/cold-start';
import {
  coldStartTarget,
  evaluateTargets,
  markdownTable,
  num,
  ratio,
  renderColdStartMarkdown,
  renderMarkdown,
  unitPrice,
  usd,
} from '../../../bench/report';
import type { BenchResults, ColdStartResults } from '../../../bench/results';
import fixture from './fixtures/results.json';

// A real (quick) run, so the rendering is checked against the shape the benchmark produces.
const results = fixture as unknown as BenchResults;

describe('markdownTable', () => {
  it('aligns numeric columns right and escapes pipes inside cells', () => {
    // Act
    const table = markdownTable(['name', 'value'], [['a|b', '1']]);
    // Assess
    expect(table.split('\n')).toEqual(['| name | value |', '| --- | ---: |', '| a\\|b | 1 |']);
  });

  it('takes an explicit alignment per column', () => {
    expect(markdownTable(['a', 'b', 'c'], [], 'lcr').split('\n')[1]).toBe('| --- | :---: | ---: |');
  });
});

describe('number formatting', () => {
  it('formats counts with separators and fixed decimals', () => {
    expect(num(12345.678, 1)).toBe('12,345.7');
    expect(num(Number.NaN)).toBe('n/a');
    expect(ratio(1.2345)).toBe('×1.23');
    expect(ratio(undefined)).toBe('–');
  });

  it('formats dollars with cents from 10 cents up and two significant digits below', () => {
    expect(usd(4.375)).toBe('$4.38');
    expect(usd(0.2)).toBe('$0.20');
    expect(usd(0.0636)).toBe('$0.064');
    expect(usd(0.00273)).toBe('$0.0027');
    expect(usd(0)).toBe('$0');
  });

  it('formats unit prices without losing the digits that matter', () => {
    expect(unitPrice(0.625)).toBe('$0.625');
    expect(unitPrice(13.3334)).toBe('$13.33');
    expect(unitPrice(1)).toBe('$1.00');
    expect(unitPrice(0.2)).toBe('$0.20');
  });
});

describe('evaluateTargets', () => {
  it('meets the write path target only when every concurrency is within 1.2', () => {
    // Prepare
    const levels = results.writePath.map((l) => ({ ...l, handlerToRawP50: 1.1 }));
    const slow = levels.map((l, i) => (i === 1 ? { ...l, handlerToRawP50: 1.25 } : l));
    // Act
    const met = evaluateTargets(levels, results.drain, results.counts)[0];
    const missed = evaluateTargets(slow, results.drain, results.counts)[0];
    // Assess
    expect(met?.met).toBe(true);
    expect(missed?.met).toBe(false);
    expect(missed?.measured).toContain('1.25 (c=8)');
  });

  it('judges the drain rate of each tracking mode against the plain baseline', () => {
    const drain = {
      ...results.drain,
      trackingOn: { ...results.drain.trackingOn, ratio: 0.5 },
      trackingOff: { ...results.drain.trackingOff, ratio: 0.9 },
    };
    const [, on, off] = evaluateTargets(results.writePath, drain, results.counts);
    expect(on?.met).toBe(false);
    expect(off?.met).toBe(true);
  });

  it('requires exactly one write request per order with and without tracking', () => {
    const counts = {
      ...results.counts,
      api: {
        ...results.counts.api,
        trackingOff: { ...results.counts.api.trackingOff, writeRequestsPerOrder: 2 },
      },
    };
    expect(evaluateTargets(results.writePath, results.drain, counts)[4]?.met).toBe(false);
    expect(evaluateTargets(results.writePath, results.drain, results.counts)[4]?.met).toBe(true);
  });
});

describe('renderMarkdown', () => {
  it('renders every section with one write path row per concurrency and variant', () => {
    // Act
    const markdown = renderMarkdown(results);
    // Assess
    for (const heading of [
      '## Targets',
      '## Write path',
      '### Drain',
      '### Lag',
      '## Counts per order and per event',
      '## Cold-start proxies',
      '## Cost per million orders (us-east-1, list prices checked',
      '### Price table',
    ])
      expect(markdown).toContain(heading);
    const variants = results.writePath.reduce((sum, l) => sum + Object.keys(l.variants).length, 0);
    const writeRows = markdown.split('\n').filter((line) => /^\| (1|8|32) \| /.test(line));
    expect(writeRows).toHaveLength(variants);
    expect(markdown).toContain('**Total**');
  });

  it('lists every design of the cost model as a column', () => {
    const markdown = renderMarkdown(results);
    for (const design of results.cost.designs) expect(markdown).toContain(design.name);
  });
});

describe('cold-start proxies', () => {
  const timing = (importMs: number) => ({
    bundleBytes: 280_000,
    sourceMapBytes: 410_000,
    importMs,
    importMsRuns: [importMs],
    processMs: importMs + 20,
  });
  const entry = (name: string, importMs: number, tracingMs?: number): ColdStartEntry => ({
    entry: `lambdas/${name}.ts`,
    sdkPackages: ['@aws-sdk/client-dynamodb'],
    bundle: timing(importMs),
    minimal: timing(100),
    importRatio: importMs / 100,
    ...(tracingMs === undefined ? {} : { tracing: timing(tracingMs), tracingImportRatio: tracingMs / 100 }),
  });

  it('meets the target only when every function imports within 1.25 × its minimal handler', () => {
    // Act
    const met = coldStartTarget([entry('outbox/relay-handler', 110), entry('orders/handler', 125)]);
    const missed = coldStartTarget([entry('outbox/relay-handler', 110), entry('orders/handler', 126)]);
    const failed = coldStartTarget([{ entry: 'lambdas/orders/handler.ts', sdkPackages: [], error: 'x' }]);
    // Assess
    expect(met.met).toBe(true);
    expect(met.measured).toBe('1.10 (outbox/relay-handler.ts), 1.25 (orders/handler.ts)');
    expect(missed.met).toBe(false);
    expect(failed.met).toBe(false);
  });

  it('renders a cold-start run alone: its target, then both imports of each function', () => {
    // Prepare
    const run: ColdStartResults = {
      schemaVersion: 1,
      profile: 'full',
      startedAt: '2026-11-30T12:00:00.000Z',
      durationSeconds: 30,
      machine: results.machine,
      nodeOptions: '--enable-source-maps',
      coldStart: [entry('outbox/relay-handler', 110, 140)],
    };
    // Act
    const markdown = renderColdStartMarkdown(run);
    // Assess
    expect(markdown).toContain('# Cold-start proxies (full run)');
    expect(markdown).toContain('| Lambda import time (tracing off) ÷ a minimal handler');
    expect(markdown).toContain(
      '| lambdas/outbox/relay-handler.ts | 273 | 400 | 110 | 100 | ×1.10 | 140 | ×1.40 |',
    );
  });

  it('shows no tracing-on figures for results measured before they were', () => {
    // Prepare: the results as a run before tracing-on figures existed wrote them.
    const before: BenchResults = {
      ...results,
      coldStart: results.coldStart.map(
        ({ tracing: _tracing, tracingImportRatio: _ratio, ...entry }) => entry,
      ),
    };
    // Act, Assess
    expect(renderMarkdown(before)).toMatch(/\| lambdas\/orders\/handler\.ts \|( [^|]+ \|){5} – \| – \|/);
  });
});
