import { spawn } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ListTablesCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DynamoDbLocal, startDynamoDbLocal } from '../../src/local/dynamodb';
import { claimPort } from '../../src/local/ports';
import { createTestOrdersTable, startTestDynamoDb } from '../support/dynamodb-local';
import { isListening, isRunning, waitFor } from '../support/processes';

describe('DynamoDB Local orders table', () => {
  let db: DynamoDbLocal;
  beforeAll(async () => {
    db = await startTestDynamoDb();
  });
  afterAll(async () => {
    await db?.stop();
  });

  it('is created with the stream, TTL and time index the stack deploys', async () => {
    const tableName = await createTestOrdersTable(db);
    const { Table } = await db.client.send(new DescribeTableCommand({ TableName: tableName }));
    expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_IMAGE' });
    expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual(['outbox-by-time']);
    const ttl = await db.client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    expect(ttl.TimeToLiveDescription).toMatchObject({
      AttributeName: 'expiresAt',
      TimeToLiveStatus: 'ENABLED',
    });
  });

  it('shows the same tables to any credentials and region (-sharedDb)', async () => {
    const tableName = await createTestOrdersTable(db);
    const stranger = new DynamoDBClient({
      endpoint: db.endpoint,
      region: 'eu-central-1',
      credentials: { accessKeyId: 'SomeoneElse', secretAccessKey: 'x' },
    });
    try {
      const { TableNames = [] } = await stranger.send(new ListTablesCommand({}));
      expect(TableNames).toContain(tableName);
    } finally {
      stranger.destroy();
    }
  });

  it('listens on 127.0.0.1 only', async () => {
    const port = Number(new URL(db.endpoint).port);
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address && address.family === 'IPv4' && !address.internal)?.address;
    expect(await isListening(port)).toBe(true);
    // A machine with no other interface has nothing to check against.
    if (external) expect(await isListening(port, external)).toBe(false);
  });
});

describe('DynamoDB Local lifetime', () => {
  it('reports an exit it was not asked for, and one it was', async () => {
    const killed = await startTestDynamoDb();
    process.kill(killed.pid, 'SIGKILL');
    expect(await killed.exited).toMatchObject({ expected: false, signal: 'SIGKILL' });
    await killed.stop();

    const stopped = await startTestDynamoDb();
    await stopped.stop();
    expect(await stopped.exited).toMatchObject({ expected: true });
  });

  it('names the port when it cannot start', async () => {
    const first = await startTestDynamoDb();
    try {
      const port = Number(new URL(first.endpoint).port);
      await expect(startDynamoDbLocal(port)).rejects.toThrow(`Port ${port} is already in use`);
    } finally {
      await first.stop();
    }
  });

  it('dies with the process that started it, even one killed with SIGKILL', async () => {
    const port = await claimPort(0);
    const dynamodb = fileURLToPath(new URL('../../src/local/dynamodb', import.meta.url));
    const script = `const { startDynamoDbLocal } = await import(${JSON.stringify(dynamodb)});
const db = await startDynamoDbLocal(${port});
console.log(db.pid);`;
    const owner = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const javaPid = await new Promise<number>((resolve, reject) => {
        owner.stdout.setEncoding('utf8').once('data', (line: string) => resolve(Number(line.trim())));
        owner.once('exit', (code) => reject(new Error(`owner exited with ${code}`)));
      });
      expect(isRunning(javaPid)).toBe(true);
      owner.kill('SIGKILL');
      await waitFor(() => !isRunning(javaPid), 'DynamoDB Local to exit after its owner was killed');
    } finally {
      // Also when an assertion above failed: the owner must not outlive the test.
      owner.kill('SIGKILL');
    }
    await waitFor(async () => !(await isListening(port)), `port ${port} to close`);
  });
});
