import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../../../cli/outbox.ts', import.meta.url));

/** The CLI as an operator runs it: a separate process, its output and exit status. */
const run = (args: string[], env: Record<string, string> = {}) => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
};

// Each case starts the CLI in a fresh Node process or two: seconds on a busy machine.
describe('npm run outbox', { timeout: 60_000 }, () => {
  it('prints its usage with --help, and refuses an unknown command with exit status 2', () => {
    const help = run(['--help']);
    const unknown = run(['purge']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: npm run outbox -- <command> [options]');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr.trim()).toBe('outbox: Unknown command "purge": use status or redrive (see --help)');
  });

  it('says what to check when the local runtime is not running', () => {
    const { status, stderr } = run(['status'], {
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:9',
      SQS_ENDPOINT: 'http://127.0.0.1:9',
    });
    expect(status).toBe(2);
    expect(stderr).toMatch(
      /^outbox: Cannot reach the outbox at local runtime \(DynamoDB http:\/\/127\.0\.0\.1:9/,
    );
    expect(stderr).toContain('Is `npm start` running?');
    // The process's own exit path: one line, no stack frames.
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).not.toMatch(/^\s+at /m);
  });
});
