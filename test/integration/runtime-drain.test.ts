import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, paginateScan } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { ORDER_SK } from '../../lambdas/orders/table';
import { type DynamoDbLocal, startDynamoDbLocal } from '../../packages/dynamodb-outbox/src/local/dynamodb';
import { closeServer, listen } from '../../packages/dynamodb-outbox/src/local/http';
import { isRunning, waitFor } from '../../packages/dynamodb-outbox/test/support/processes';

/*
 * A graceful stop under load: SIGINT to the runtime while orders are in flight. The HTTP front stops
 * taking connections and lets the requests under way finish before anything else stops. Counted
 * against the table afterwards (the data is on disk, read by a DynamoDB Local of the test's own):
 * every order in the table got its 201 (no client saw a dropped connection or a 500 for an order
 * that was committed), and requests under way when the signal landed were answered.
 */

const repo = fileURLToPath(new URL('../..', import.meta.url));

interface Attempt {
  readonly startedAt: number;
  endedAt?: number;
  status?: number;
  orderId?: string;
  error?: string;
}

const freePorts = async (count: number): Promise<number[]> => {
  const servers = Array.from({ length: count }, () => createServer());
  const ports = await Promise.all(servers.map((server) => listen(server, 0)));
  await Promise.all(servers.map((server) => closeServer(server)));
  return ports;
};

describe('SIGINT with orders in flight', () => {
  let runtime: ChildProcess | undefined;
  let db: DynamoDbLocal | undefined;
  let dataDir: string | undefined;

  afterAll(async () => {
    if (runtime?.pid !== undefined && isRunning(runtime.pid)) runtime.kill('SIGKILL');
    await db?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('answers every order it committed: in-flight requests finish before the runtime stops', {
    timeout: 180_000,
  }, async () => {
    // Prepare: the runtime as `npm start` runs it, its data on disk.
    dataDir = await mkdtemp(join(tmpdir(), 'outbox-drain-'));
    const [api, dynamoDb, eventBridge, sqs, lambda] = await freePorts(5);
    runtime = spawn('node', ['--import', 'tsx', 'packages/dynamodb-outbox/src/cli/bin.ts', 'local'], {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        PORT: String(api),
        DYNAMODB_PORT: String(dynamoDb),
        EVENTBRIDGE_PORT: String(eventBridge),
        SQS_PORT: String(sqs),
        LAMBDA_PORT: String(lambda),
        DYNAMODB_DATA_DIR: dataDir,
      },
    });
    let output = '';
    runtime.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    runtime.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => runtime?.once('exit', (code) => resolve(code)));
    await waitFor(
      () => output.includes('Press Ctrl-C to stop.') || runtime?.exitCode !== null,
      'the runtime',
      120_000,
    );
    expect(output).toContain('Press Ctrl-C to stop.');

    // Act: 16 clients place orders back to back until the runtime is gone; SIGINT lands among them.
    const attempts: Attempt[] = [];
    let gone = false;
    void exited.then(() => (gone = true));
    const client = async () => {
      while (!gone) {
        const attempt: Attempt = { startedAt: performance.now() };
        attempts.push(attempt);
        try {
          const response = await fetch(`http://127.0.0.1:${api}/orders`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              customerId: 'customer-42',
              currency: 'EUR',
              lines: [{ sku: 'SKU-1', quantity: 1, unitPrice: 1250 }],
            }),
          });
          const body = (await response.json()) as { orderId?: string };
          attempt.status = response.status;
          if (body.orderId) attempt.orderId = body.orderId;
        } catch (error) {
          attempt.error = String((error as { cause?: unknown }).cause ?? error);
          // Refused: the front has closed; nothing more to send.
          if (attempt.error.includes('ECONNREFUSED')) return;
        } finally {
          attempt.endedAt = performance.now();
        }
      }
    };
    const clients = Promise.all(Array.from({ length: 16 }, client));
    await waitFor(() => attempts.filter((a) => a.status === 201).length >= 40, 'orders placed', 60_000);
    const signalledAt = performance.now();
    runtime.kill('SIGINT');
    const code = await exited;
    await clients;

    // Assess: the orders in the table, read from the runtime's data directory.
    db = await startDynamoDbLocal((await freePorts(1))[0] ?? 0, dataDir);
    const doc = DynamoDBDocumentClient.from(db.client);
    const stored = new Set<string>();
    for (const table of (await db.client.send(new ListTablesCommand({}))).TableNames ?? [])
      for await (const page of paginateScan({ client: doc }, { TableName: table }))
        for (const item of page.Items ?? [])
          if (item.SK === ORDER_SK && typeof item.PK === 'string') stored.add(item.PK.replace(/^ORDER#/, ''));

    const inFlight = attempts.filter((a) => a.startedAt < signalledAt && (a.endedAt ?? 0) > signalledAt);
    expect(code).toBe(0);
    // Requests under way were answered after the signal (a request the front had not read yet
    // may be refused: it committed nothing, which the table check below holds it to).
    expect(inFlight.filter((a) => a.status === 201).length).toBeGreaterThan(0);
    expect(attempts.filter((a) => a.status !== undefined && a.status !== 201)).toEqual([]);
    const answered = new Set(attempts.flatMap((a) => (a.status === 201 && a.orderId ? [a.orderId] : [])));
    expect([...stored].filter((orderId) => !answered.has(orderId))).toEqual([]);
    expect([...answered].filter((orderId) => !stored.has(orderId))).toEqual([]);
  });
});
