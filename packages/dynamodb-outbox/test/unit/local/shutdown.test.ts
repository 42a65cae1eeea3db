import { describe, expect, it, vi } from 'vitest';
import { createShutdown } from '../../../src/local/shutdown';

const setup = (stop: () => Promise<void> = () => Promise.resolve()) => {
  let clock = 0;
  const exits: number[] = [];
  const lines: string[] = [];
  let exited: () => void = () => undefined;
  const exitedOnce = new Promise<void>((resolve) => {
    exited = resolve;
  });
  const shutdown = createShutdown({
    stop,
    exit: (code) => {
      exits.push(code);
      exited();
    },
    log: (line) => lines.push(line),
    error: (line) => lines.push(`error: ${line}`),
    now: () => clock,
  });
  return { shutdown, exits, lines, exitedOnce, tick: (ms: number) => (clock += ms) };
};

describe('createShutdown', () => {
  it('stops once on a signal and exits 0', async () => {
    const stop = vi.fn(() => Promise.resolve());
    const { shutdown, exits, lines, exitedOnce } = setup(stop);
    shutdown.onSignal('SIGTERM');
    await exitedOnce;
    expect(stop).toHaveBeenCalledOnce();
    expect(exits).toEqual([0]);
    expect(lines).toEqual(['\nSIGTERM: stopping…']);
  });

  it("ignores npm's copy of a process-group signal, and forces exit on a second request", () => {
    const { shutdown, exits, tick } = setup(() => new Promise(() => undefined));
    shutdown.onSignal('SIGINT');
    tick(5);
    shutdown.onSignal('SIGINT');
    expect(exits).toEqual([]);
    tick(2000);
    shutdown.onSignal('SIGINT');
    expect(exits).toEqual([130]);
  });

  it('forces exit on a different signal at once', () => {
    const { shutdown, exits } = setup(() => new Promise(() => undefined));
    shutdown.onSignal('SIGINT');
    shutdown.onSignal('SIGTERM');
    expect(exits).toEqual([130]);
  });

  it('stops for a reason with its exit status, printed once, and exits 1 when stopping fails', async () => {
    const { shutdown, exits, lines, exitedOnce } = setup(() => Promise.reject(new Error('poller stuck')));
    shutdown.stopFor('DynamoDB Local stopped', 1);
    shutdown.stopFor('DynamoDB Local stopped', 1);
    await exitedOnce;
    expect(lines).toEqual(['error: DynamoDB Local stopped', 'error: Stopped with errors: poller stuck']);
    expect(exits).toEqual([1]);
  });
});
