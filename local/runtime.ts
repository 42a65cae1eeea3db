import { createServer } from 'node:net';
import { DescribeTableCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { readOrdersConfig } from '../lambdas/orders/config';
import { ordersRoutes } from '../lambdas/orders/http/routes';
import { buildOrdersHandler } from '../lambdas/orders/wiring';
import { createOrdersTable, type DynamoDbLocal, startDynamoDbLocal } from './dynamodb';
import { type LocalHttpApi, PortInUseError, type ResponseInfo, startLocalHttpApi } from './http-server';

/**
 * The whole service on one machine, with no AWS account: DynamoDB Local with the orders table
 * created from the deployed definition, and the API handler behind a local HTTP API. Used by
 * `npm start`, the integration tests and the benchmarks.
 */
export interface LocalRuntimeOptions {
  /** HTTP port of the API; 0 picks a free one. @default 3000 */
  readonly apiPort?: number;
  /** DynamoDB Local's port; 0 picks a free one. @default 8000 */
  readonly dynamoDbPort?: number;
  /** Directory for DynamoDB Local's data. @default in memory */
  readonly dynamoDbDataPath?: string;
  /** @default 'orders' */
  readonly tableName?: string;
  /** Interface the API listens on. @default '127.0.0.1' */
  readonly host?: string;
  /**
   * Function environment, merged over `process.env` and the runtime's own values (TABLE_NAME):
   * e.g. OUTBOX_DELIVERY_TRACKING, OUTBOX_RETENTION_DAYS. Read by the same config readers as in Lambda.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Called after every API response. */
  readonly onApiResponse?: (info: ResponseInfo) => void;
}

export interface LocalRuntime {
  readonly apiUrl: string;
  readonly apiPort: number;
  readonly dynamoDb: DynamoDbLocal;
  readonly dynamoDbPort: number;
  readonly tableName: string;
  /** The environment the functions were configured from. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Stop everything, last started first. Safe to call more than once. */
  stop(): Promise<void>;
}

/** Resolve `port` to a free port: 0 picks one, anything else must not be taken. */
export const claimPort = (port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(port) : error),
    );
    // No host: the wildcard address collides with a listener on any interface.
    probe.listen(port, () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('No port assigned')),
      );
    });
  });

export const startLocalRuntime = async (options: LocalRuntimeOptions = {}): Promise<LocalRuntime> => {
  const tableName = options.tableName ?? 'orders';
  // Components register how to stop them as they start; a failure half-way stops what did start.
  const stops: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const failures: unknown[] = [];
      for (const stopOne of stops.reverse()) {
        try {
          await stopOne();
        } catch (error) {
          failures.push(error);
        }
      }
      if (failures.length) throw new AggregateError(failures, 'Some local components did not stop cleanly');
    })();
    return stopping;
  };

  try {
    const apiPort = options.apiPort ?? 3000;
    if (apiPort !== 0) await claimPort(apiPort);
    const dynamoDbPort = await claimPort(options.dynamoDbPort ?? 8000);
    const dynamoDb = await startDynamoDbLocal(dynamoDbPort, options.dynamoDbDataPath);
    stops.push(() => dynamoDb.stop());
    if (!(await tableExists(dynamoDb, tableName))) await createOrdersTable(dynamoDb.client, tableName);

    const env: Record<string, string | undefined> = { ...process.env, TABLE_NAME: tableName, ...options.env };

    const api: LocalHttpApi = await startLocalHttpApi({
      routes: ordersRoutes,
      handler: buildOrdersHandler({ config: readOrdersConfig(env), dynamoDb: dynamoDb.client }),
      port: apiPort,
      ...(options.host === undefined ? {} : { host: options.host }),
      functionName: 'orders-api',
      ...(options.onApiResponse === undefined ? {} : { onResponse: options.onApiResponse }),
    });
    stops.push(() => api.close());

    return {
      apiUrl: api.url,
      apiPort: api.port,
      dynamoDb,
      dynamoDbPort,
      tableName,
      env,
      stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
};

/** With an on-disk DynamoDB Local the table survives restarts. */
const tableExists = async (dynamoDb: DynamoDbLocal, tableName: string): Promise<boolean> => {
  try {
    await dynamoDb.client.send(new DescribeTableCommand({ TableName: tableName }));
    return true;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return false;
    throw error;
  }
};
