import { describe, expect, it } from 'vitest';
import { BenchUsageError, coldStartFiles, FULL, parseArgs, QUICK, resultFiles } from '../../../bench/args';

describe('parseArgs', () => {
  it('runs the full benchmark into the default directory without arguments', () => {
    expect(parseArgs([], 'bench/results')).toEqual({
      profile: FULL,
      outDir: 'bench/results',
      help: false,
      sweep: false,
      coldStart: false,
      saga: false,
    });
    expect(parseArgs(['--quick', '--saga'], 'bench/results')).toMatchObject({ profile: QUICK, saga: true });
    expect(parseArgs(['--sweep'], 'bench/results').sweep).toBe(true);
    expect(parseArgs(['--quick', '--cold-start'], 'bench/results')).toMatchObject({
      profile: QUICK,
      coldStart: true,
    });
  });

  it('takes --quick and --out in either form', () => {
    expect(parseArgs(['--quick', '--out', '/tmp/x'], 'd')).toMatchObject({
      profile: QUICK,
      outDir: '/tmp/x',
    });
    expect(parseArgs(['--out=/tmp/y'], 'd').outDir).toBe('/tmp/y');
  });

  it('rejects unknown arguments and an --out without a directory', () => {
    expect(() => parseArgs(['--fast'], 'd')).toThrow(new BenchUsageError('Unknown argument: --fast'));
    expect(() => parseArgs(['--out'], 'd')).toThrow(new BenchUsageError('--out needs a directory'));
    expect(() => parseArgs(['--sweep', '--cold-start'], 'd')).toThrow(BenchUsageError);
    expect(() => parseArgs(['--saga', '--cold-start'], 'd')).toThrow(
      new BenchUsageError('--sweep, --cold-start and --saga are separate runs: pick one'),
    );
  });

  it('keeps quick results apart from the full results the README shows', () => {
    expect(resultFiles(FULL)).toEqual({ json: 'latest.json', markdown: 'latest.md', chart: 'lag.svg' });
    expect(resultFiles(QUICK).json).toBe('quick.json');
    expect(coldStartFiles(FULL)).toEqual({ json: 'cold-start.json', markdown: 'cold-start.md' });
    expect(coldStartFiles(QUICK).markdown).toBe('cold-start-quick.md');
  });

  it('sizes the full run as the issue asks: concurrency 1, 8 and 32, a backlog of 5,000', () => {
    expect(FULL.writePath.concurrencies).toEqual([1, 8, 32]);
    expect(FULL.drain.backlog).toBe(5000);
    for (const c of FULL.writePath.concurrencies)
      expect(FULL.writePath.requestsPerRound[c]).toBeGreaterThan(0);
    for (const c of QUICK.writePath.concurrencies)
      expect(QUICK.writePath.requestsPerRound[c]).toBeGreaterThan(0);
  });
});
