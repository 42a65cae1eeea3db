import { TransactWriteItemsCommand, type TransactWriteItemsCommandInput } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { OrdersSettings } from '../lambdas/orders/config';
import type { OrdersHandler } from '../lambdas/orders/http/api';
import { ordersRoutes } from '../lambdas/orders/http/routes';
import { buildOrdersHandler } from '../lambdas/orders/wiring';
import type { DynamoDbLocal } from '../packages/dynamodb-outbox/src/local/dynamodb';
import { localDynamoDbClient } from '../packages/dynamodb-outbox/src/local/dynamodb';
import { startLocalHttpApi } from '../packages/dynamodb-outbox/src/local/http-server';
import { type ApiFunction, captureOrderTransactions, invokePlaceOrder, placeOrderEvent } from './orders-load';
import { median, pairedRatio, type Summary, summarize } from './stats';

/*
 * The write path, three ways against the same table in the same run:
 * - raw: the TransactWriteItems the handler would send (captured from it beforehand), sent with
 *   a bare DynamoDB client: what one order costs the database and the network, nothing else;
 * - handler: the real API handler (middy, Powertools, zod, the use case, the document client)
 *   invoked in-process with API Gateway HTTP API events, as Lambda would;
 * - http: the same handler behind the local HTTP API emulation, requested over HTTP.
 * Rounds alternate the order of the three, so slow drift of a noisy machine hits all alike.
 */

export type Variant = 'raw' | 'handler' | 'http';

export interface VariantResult {
  readonly latencyMs: Summary;
  readonly p50PerRound: number[];
  readonly p99PerRound: number[];
  readonly ordersPerSecondPerRound: number[];
  readonly ordersPerSecond: number;
  readonly errors: number;
}

export interface WritePathLevel {
  readonly concurrency: number;
  readonly requestsPerRound: number;
  readonly rounds: number;
  readonly variants: Partial<Record<Variant, VariantResult>>;
  /** handler ÷ raw p50 latency, paired by round. */
  readonly handlerToRawP50: number;
  readonly handlerToRawP99: number;
  /** handler ÷ raw throughput, paired by round. */
  readonly handlerToRawThroughput: number;
  readonly httpToRawP50?: number;
}

export interface WritePathOptions {
  readonly dynamoDb: DynamoDbLocal;
  readonly settings: OrdersSettings;
  readonly api: ApiFunction;
  readonly concurrencies: readonly number[];
  readonly rounds: number;
  readonly requestsPerRound: (concurrency: number) => number;
  readonly warmupRequests: number;
  readonly http: boolean;
  readonly log: (message: string) => void;
}

interface Round {
  readonly latencies: number[];
  readonly seconds: number;
  readonly errors: number;
}

/** Run `operation` `count` times with `concurrency` in flight; latency of each, wall time of all. */
const load = async (
  count: number,
  concurrency: number,
  operation: (i: number) => Promise<void>,
): Promise<Round> => {
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const started = performance.now();
      try {
        await operation(i);
        latencies.push(performance.now() - started);
      } catch {
        errors++;
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { latencies, seconds: (performance.now() - started) / 1000, errors };
};

const summarizeRounds = (rounds: readonly Round[]): VariantResult => {
  const rates = rounds.map((r) => r.latencies.length / r.seconds);
  return {
    latencyMs: summarize(rounds.flatMap((r) => r.latencies)),
    p50PerRound: rounds.map((r) => summarize(r.latencies).p50),
    p99PerRound: rounds.map((r) => summarize(r.latencies).p99),
    ordersPerSecondPerRound: rates,
    ordersPerSecond: median(rates),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
  };
};

export const benchWritePath = async (options: WritePathOptions): Promise<WritePathLevel[]> => {
  const { dynamoDb, settings, api } = options;
  const rawClient = localDynamoDbClient(dynamoDb.endpoint);
  const handlerClient = localDynamoDbClient(dynamoDb.endpoint);
  const httpClient = localDynamoDbClient(dynamoDb.endpoint);
  const handler: OrdersHandler = buildOrdersHandler({ settings, clients: { dynamoDb: handlerClient } });
  const server = options.http
    ? await startLocalHttpApi({
        routes: ordersRoutes,
        handler: buildOrdersHandler({ settings, clients: { dynamoDb: httpClient } }),
        port: 0,
        functionName: 'orders-api',
        functionTimeoutMs: api.timeoutSeconds * 1000,
      })
    : undefined;
  let orderNumber = 0;

  const operations = async (count: number): Promise<Record<Variant, (i: number) => Promise<void>>> => {
    const base = orderNumber;
    orderNumber += count;
    const transactions = await captureOrderTransactions(settings, count, api, base);
    // Built before the clock starts, as the raw transactions are: building them is API Gateway's work.
    const events = Array.from({ length: count }, (_, i) => placeOrderEvent(base + i));
    return {
      raw: async (i) => {
        await rawClient.send(
          new TransactWriteItemsCommand(transactions[i] as TransactWriteItemsCommandInput),
        );
      },
      handler: (i) => invokePlaceOrder(handler, events[i] as APIGatewayProxyEventV2, api),
      http: async (i) => {
        if (!server) throw new Error('no HTTP server');
        const event = events[i] as APIGatewayProxyEventV2;
        const response = await fetch(`${server.url}/orders`, {
          method: 'POST',
          headers: event.headers as Record<string, string>,
          body: event.body ?? '',
        });
        await response.arrayBuffer();
        if (response.status !== 201) throw new Error(`POST /orders answered ${response.status}`);
      },
    };
  };

  const variants: Variant[] = options.http ? ['raw', 'handler', 'http'] : ['raw', 'handler'];
  const levels: WritePathLevel[] = [];
  try {
    for (const concurrency of options.concurrencies) {
      const count = options.requestsPerRound(concurrency);
      const warm = await operations(options.warmupRequests);
      for (const variant of variants) await load(options.warmupRequests, concurrency, warm[variant]);

      const rounds: Record<Variant, Round[]> = { raw: [], handler: [], http: [] };
      for (let round = 0; round < options.rounds; round++) {
        const ops = await operations(count);
        const order = round % 2 === 0 ? variants : [...variants].reverse();
        for (const variant of order) rounds[variant].push(await load(count, concurrency, ops[variant]));
      }
      const results: Partial<Record<Variant, VariantResult>> = {};
      for (const variant of variants) results[variant] = summarizeRounds(rounds[variant]);
      const raw = results.raw as VariantResult;
      const viaHandler = results.handler as VariantResult;
      const level: WritePathLevel = {
        concurrency,
        requestsPerRound: count,
        rounds: options.rounds,
        variants: results,
        handlerToRawP50: pairedRatio(viaHandler.p50PerRound, raw.p50PerRound),
        handlerToRawP99: pairedRatio(viaHandler.p99PerRound, raw.p99PerRound),
        handlerToRawThroughput: pairedRatio(viaHandler.ordersPerSecondPerRound, raw.ordersPerSecondPerRound),
        ...(results.http ? { httpToRawP50: pairedRatio(results.http.p50PerRound, raw.p50PerRound) } : {}),
      };
      levels.push(level);
      options.log(
        `write path c=${concurrency}: raw p50 ${raw.latencyMs.p50.toFixed(1)} ms, handler p50 ${viaHandler.latencyMs.p50.toFixed(1)} ms (×${level.handlerToRawP50.toFixed(2)})`,
      );
    }
  } finally {
    await server?.close();
    rawClient.destroy();
    handlerClient.destroy();
    httpClient.destroy();
  }
  return levels;
};
