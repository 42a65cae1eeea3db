import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { closeServer, listen } from '../../../src/local/http';
import { startLocalSqs } from '../../../src/local/sqs';

const cli = fileURLToPath(new URL('../../../src/cli/bin.ts', import.meta.url));

/** The CLI as an operator runs it: a separate process, its output and exit status. */
const run = (
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    // Asynchronous: a test may serve an endpoint from this process while the CLI runs.
    execFile(
      process.execPath,
      ['--import', 'tsx', cli, ...args],
      { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') reject(error);
        else resolve({ status: error ? Number(error.code) : 0, stdout, stderr });
      },
    );
  });

/** Ports nothing listens on: claimed together, so they differ, then released. */
const freePorts = async (count: number): Promise<number[]> => {
  const servers = Array.from({ length: count }, () => createServer());
  const ports = await Promise.all(servers.map((server) => listen(server, 0, '127.0.0.1')));
  await Promise.all(servers.map((server) => closeServer(server)));
  return ports;
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
describe('the dynamodb-outbox bin', { timeout: 60_000 }, () => {
  it('prints its usage with --help, and refuses an unknown command with exit status 2', async () => {
    const [help, unknown] = await Promise.all([run(['--help']), run(['purge'])]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: dynamodb-outbox <command> [options]');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr.trim()).toBe(
      'outbox: Unknown command "purge": use local, invoke, status, redrive or replay (see --help)',
    );
  });

  it('says the local stack is down when nothing answers on its endpoints', async () => {
    const [dynamodb, eventbridge, sqs] = await freePorts(3);
    const { status, stderr } = await run(['status'], {
      DYNAMODB_PORT: String(dynamodb),
      EVENTBRIDGE_PORT: String(eventbridge),
      SQS_PORT: String(sqs),
    });
    expect(status).toBe(2);
    expect(stderr).toMatch(
      new RegExp(
        `^outbox: The local stack is down: nothing answers at DynamoDB http://127\\.0\\.0\\.1:${dynamodb}, ` +
          `EventBridge http://127\\.0\\.0\\.1:${eventbridge} or SQS http://127\\.0\\.0\\.1:${sqs} `,
      ),
    );
    expect(stderr).toContain('Start it with `dynamodb-outbox local`');
    // The process's own exit path: one line, no stack frames.
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).not.toMatch(/^\s+at /m);
  });

  it('says the database is down when the runtime answers and DynamoDB Local does not', async () => {
    const sqs = await startLocalSqs({ port: 0 });
    try {
      const [dynamodb, eventbridge] = await freePorts(2);
      const { status, stderr } = await run(['status'], {
        DYNAMODB_PORT: String(dynamodb),
        EVENTBRIDGE_PORT: String(eventbridge),
        SQS_ENDPOINT: sqs.endpoint,
      });
      expect(status).toBe(2);
      expect(stderr).toContain(
        `outbox: The local database is down: the runtime answers (SQS ${sqs.endpoint}), ` +
          `but DynamoDB Local at http://127.0.0.1:${dynamodb} does not (`,
      );
      expect(stderr).toContain('Restart the runtime (stop it, then `dynamodb-outbox local`)');
    } finally {
      await sqs.stop();
    }
  });

  it('says when AWS cannot be reached, with the region to check', async () => {
    const { status, stderr } = await run(['status', '--stack', 'Orders', '--region', 'eu-west-1'], {
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

  it('refuses a replay without its time range before doing anything', async () => {
    const { status, stderr } = await run(['replay', '--from', '2h'], {
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:9',
    });
    expect(status).toBe(2);
    expect(stderr.trim()).toBe('outbox: replay needs --from <time> and --to <time>');
  });
});
