import type { Profile } from './args';
import { type Summary, summarize } from './stats';

/**
 * Saga end-to-end lag offline: orders placed through the HTTP API of `npm start`'s runtime (the
 * real template: relay, bus, inventory's transactional consumer, inventory's relay, the answers
 * consumer), each timed from its `createdAt` to its `confirmedAt`, both stamped by the services.
 */
export interface SagaLagResults {
  readonly schemaVersion: 1;
  readonly profile: Profile['name'];
  readonly startedAt: string;
  readonly orders: number;
  readonly concurrency: number;
  /** Milliseconds from placement to confirmation. */
  readonly lagMs: Summary;
  /** Orders not CONFIRMED within the wait: a failure of the run, never left out silently. */
  readonly unconfirmed: number;
}

/** Orders per run and how many are placed at once: a steady trickle, not a load test. */
export const SAGA_LAG_SIZES: Record<Profile['name'], { orders: number; concurrency: number }> = {
  full: { orders: 300, concurrency: 4 },
  quick: { orders: 20, concurrency: 2 },
};

/** How long an order may take to be confirmed before the run counts it unconfirmed. */
const WAIT_MS = 60_000;

export const sagaLagFiles = (profile: Profile): { json: string; markdown: string } =>
  profile.name === 'full'
    ? { json: 'saga-lag.json', markdown: 'saga-lag.md' }
    : { json: 'saga-lag-quick.json', markdown: 'saga-lag-quick.md' };

export const measureSagaLag = async (
  profile: Profile,
  log: (message: string) => void,
): Promise<SagaLagResults> => {
  const { orders, concurrency } = SAGA_LAG_SIZES[profile.name];
  const startedAt = new Date();
  const { startLocalRuntime } = await import('../packages/dynamodb-outbox/src/local/runtime');
  const runtime = await startLocalRuntime({ apiPort: 0, dynamoDbPort: 0 });
  try {
    log(`saga lag: ${orders} orders, ${concurrency} at a time, on ${runtime.apiUrl}`);
    const lags: number[] = [];
    let unconfirmed = 0;
    let next = 0;
    const worker = async () => {
      for (let n = next++; n < orders; n = next++) {
        const placed = await fetch(`${runtime.apiUrl}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            customerId: `bench-${n}`,
            currency: 'EUR',
            // One unit of one catalogue sku each: every order can be confirmed.
            lines: [{ sku: `SKU-${(n % 100) + 1}`, quantity: 1, unitPrice: 100 }],
          }),
        });
        const { orderId } = (await placed.json()) as { orderId: string };
        const deadline = Date.now() + WAIT_MS;
        for (;;) {
          const order = (await (await fetch(`${runtime.apiUrl}/orders/${orderId}`)).json()) as {
            status: string;
            createdAt: string;
            confirmedAt?: string;
          };
          if (order.confirmedAt !== undefined) {
            lags.push(Date.parse(order.confirmedAt) - Date.parse(order.createdAt));
            break;
          }
          if (order.status !== 'PLACED' || Date.now() > deadline) {
            unconfirmed++;
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return {
      schemaVersion: 1,
      profile: profile.name,
      startedAt: startedAt.toISOString(),
      orders,
      concurrency,
      lagMs: summarize(lags),
      unconfirmed,
    };
  } finally {
    await runtime.stop();
  }
};

export const renderSagaLagMarkdown = (results: SagaLagResults): string =>
  [
    `# Saga end-to-end lag offline (${results.profile} run, ${results.startedAt})`,
    '',
    `${results.orders} orders through \`npm start\`'s runtime, ${results.concurrency} at a time: placed (\`createdAt\`) → confirmed (\`confirmedAt\`), through the orders relay, inventory's transactional consumer, inventory's relay and the answers consumer.`,
    '',
    '| p50 | p99 | max | unconfirmed |',
    '| --- | --- | --- | --- |',
    `| ${results.lagMs.p50.toFixed(0)} ms | ${results.lagMs.p99.toFixed(0)} ms | ${results.lagMs.max.toFixed(0)} ms | ${results.unconfirmed} |`,
    '',
  ].join('\n');
