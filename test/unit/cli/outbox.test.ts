import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
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

/** A port nothing listens on: bound, then released. */
const closedPort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

// Each case starts the CLI in a fresh Node process or two: seconds on a busy machine.
describe('npm run outbox', { timeout: 60_000 }, () => {
  it('prints its usage with --help, and refuses an unknown command with exit status 2', () => {
    const help = run(['--help']);
    const unknown = run(['purge']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: npm run outbox -- <command> [options]');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr.trim()).toBe('outbox: Unknown command "purge"');
  });

  it('names the local endpoint it cannot reach, and what to do', async () => {
    const dynamodb = `http://127.0.0.1:${await closedPort()}`;
    const eventbridge = `http://127.0.0.1:${await closedPort()}`;
    const env = { DYNAMODB_ENDPOINT: dynamodb, SQS_ENDPOINT: dynamodb, EVENTBRIDGE_ENDPOINT: eventbridge };

    const status = run(['status'], env);
    const replay = run(['replay', '--from', '2h', '--to', 'now'], env);

    expect(status.status).toBe(2);
    expect(status.stderr).toMatch(
      new RegExp(
        `^outbox: Cannot reach the local DynamoDB at ${dynamodb} \\(ECONNREFUSED\\)\\. Is \`npm start\` running\\?`,
      ),
    );
    expect(replay.status).toBe(2);
    expect(replay.stderr).toMatch(
      new RegExp(
        `^outbox: Cannot reach the local EventBridge at ${eventbridge} \\(ECONNREFUSED\\)\\. Is \`npm start\` running\\?`,
      ),
    );
  });

  it('says when AWS cannot be reached, with the region to check', async () => {
    const { status, stderr } = run(['status', '--stack', 'Orders', '--region', 'eu-west-1'], {
      AWS_ENDPOINT_URL: `http://127.0.0.1:${await closedPort()}`,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_MAX_ATTEMPTS: '1',
    });
    expect(status).toBe(2);
    expect(stderr.trim()).toBe(
      'outbox: Cannot reach CloudFormation at AWS region eu-west-1 (ECONNREFUSED). ' +
        'Check the region (--region or AWS_REGION), the network and any proxy (HTTPS_PROXY).',
    );
  });

  it('refuses a replay without its time range before doing anything', () => {
    const { status, stderr } = run(['replay', '--from', '2h'], { DYNAMODB_ENDPOINT: 'http://127.0.0.1:9' });
    expect(status).toBe(2);
    expect(stderr.trim()).toBe('outbox: replay needs --from <time> and --to <time>');
  });
});
