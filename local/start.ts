import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DeliveryResult } from '../lambdas/inventory/consumer';
import type { ReconcileReport } from '../lambdas/outbox/reconciler';
import type { AcceptedEvent } from './event-bus';
import type { ResponseInfo } from './http-server';

/**
 * `npm start`: the service offline. PORT (default 3000) serves the API, DYNAMODB_PORT (default
 * 8000) DynamoDB Local, in memory unless DYNAMODB_DATA_DIR names a directory, EVENTBRIDGE_PORT
 * (default 4010) the local EventBridge endpoint the relay publishes to, SQS_PORT (default 9324)
 * the stand-in for the poison, failure and dead-letter queues. Ctrl-C stops all, and so do
 * SIGTERM, SIGHUP, the end of the process that started this one (npm, even killed with SIGKILL) and
 * the end of DynamoDB Local (exit status 1). DynamoDB Local itself exits with this process, however
 * it ends (see local/DynamoDbLocalLauncher.java).
 */

// Before any handler module loads: the Powertools singletons read their settings on import.
const localDefaults: Record<string, string> = {
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  POWERTOOLS_SERVICE_NAME: 'orders-api',
  POWERTOOLS_METRICS_NAMESPACE: 'DynamoDbOutbox',
  // EMF lines would flood the console; CloudWatch is where metrics matter.
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_LOG_LEVEL: 'WARN',
};
for (const [name, value] of Object.entries(localDefaults)) process.env[name] ??= value;

const fail = (message: string): never => {
  console.error(message);
  process.exit(1);
};

const portFromEnv = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    return fail(`${name} must be a port number between 1 and 65535, got "${raw}"`);
  return port;
};

const apiPort = portFromEnv('PORT', 3000);
const dynamoDbPort = portFromEnv('DYNAMODB_PORT', 8000);
const eventBridgePort = portFromEnv('EVENTBRIDGE_PORT', 4010);
const sqsPort = portFromEnv('SQS_PORT', 9324);
const dataDir = process.env.DYNAMODB_DATA_DIR ? resolve(process.env.DYNAMODB_DATA_DIR) : undefined;
if (dataDir) mkdirSync(dataDir, { recursive: true });

/** Minor units as the currency writes them: 2500 EUR → "25.00 EUR". Display only. */
const money = (total: number, currency: string): string => {
  let digits = 2;
  try {
    digits =
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ??
      2;
  } catch {
    // An ICU build without this currency: show two decimals.
  }
  return `${(total / 10 ** digits).toFixed(digits)} ${currency}`;
};

const report = (info: ResponseInfo): void => {
  try {
    if (info.routeKey === 'POST /orders' && info.statusCode === 201) {
      const order = JSON.parse(info.body) as { orderId: string; total: number; currency: string };
      const verb = info.headers['idempotent-replayed'] === 'true' ? 'order replayed' : 'order accepted';
      console.log(`${verb}  ${order.orderId}  ${money(order.total, order.currency)}`);
    } else if (info.routeKey === 'POST /orders/{orderId}/cancel' && info.statusCode === 200) {
      const order = JSON.parse(info.body) as { orderId: string };
      console.log(`order cancelled ${order.orderId}`);
    } else if (info.statusCode >= 500) {
      console.log(`request failed  ${info.method} ${info.path}  ${info.statusCode}`);
    }
  } catch {
    // A console line is never worth failing a request over.
  }
};

const relayedEventIds = new Set<string>();
const reportEvent = ({ event, receivedAt }: AcceptedEvent): void => {
  const { eventId, occurredAt } = event.detail;
  if (typeof eventId !== 'string') return;
  const lag = typeof occurredAt === 'string' ? Date.parse(receivedAt) - Date.parse(occurredAt) : Number.NaN;
  const again = relayedEventIds.has(eventId) ? '  (again: delivery is at least once)' : '';
  relayedEventIds.add(eventId);
  console.log(
    `event relayed   ${eventId}  ${event['detail-type']}${Number.isNaN(lag) ? '' : `  lag ${lag}ms`}${again}`,
  );
};

const reportInventory = (result: DeliveryResult): void => {
  if (result.duplicate) {
    console.log(`duplicate       ${result.eventId}  skipped (already applied: ${result.outcome})`);
    return;
  }
  const label: Record<DeliveryResult['outcome'], [string, string]> = {
    reserved: ['stock reserved', ''],
    released: ['stock released', ''],
    'cancelled-before-placed': ['nothing held', '  (the cancel arrived before the order)'],
    'nothing-to-release': ['nothing held', '  (nothing was reserved)'],
    rejected: ['not reserved', `  ${result.reason ?? ''}`],
    stale: ['stale event', `  ignored: ${result.reason ?? 'a newer one was applied'}`],
  };
  const [verb, detail] = label[result.outcome];
  console.log(`${verb.padEnd(14)}  ${result.orderId}${detail}`);
};

const reportReconcile = (report: ReconcileReport): void => {
  console.log(
    `reconciler      republished ${report.republished} stuck event(s)` +
      (report.parked ? `, parked ${report.parked} on the poison queue` : ''),
  );
};

const { startLocalRuntime } = await import('./runtime');
const { PortInUseError } = await import('./http-server');
const { describeExit } = await import('./dynamodb');
const { createShutdown, watchParent } = await import('./shutdown');

const started = performance.now();
const runtime = await startLocalRuntime({
  apiPort,
  dynamoDbPort,
  ...(dataDir ? { dynamoDbDataPath: dataDir } : {}),
  onApiResponse: report,
  eventBridgePort,
  onEventAccepted: reportEvent,
  consumers: true,
  sqsPort,
  onInventoryResult: reportInventory,
  onReconcile: reportReconcile,
}).catch((error: unknown) => {
  if (error instanceof PortInUseError) {
    const variable =
      error.port === apiPort
        ? 'PORT'
        : error.port === eventBridgePort
          ? 'EVENTBRIDGE_PORT'
          : error.port === sqsPort
            ? 'SQS_PORT'
            : 'DYNAMODB_PORT';
    return fail(
      `Port ${error.port} is already in use (${variable}). Stop the process listening on it, ` +
        `or choose another port, e.g. ${variable}=${error.port + 1} npm start`,
    );
  }
  return fail(error instanceof Error ? error.message : String(error));
});

console.log(
  `dynamodb-outbox is running offline (ready in ${((performance.now() - started) / 1000).toFixed(1)} s)`,
);
console.log(
  `  API       ${runtime.apiUrl}   POST /orders · GET /orders/{orderId} · POST /orders/{orderId}/cancel`,
);
console.log(
  `  DynamoDB  ${runtime.dynamoDb.endpoint}   table "${runtime.tableName}" ${dataDir ? `in ${dataDir}` : 'in memory'}`,
);
console.log(
  `  EventBridge ${runtime.eventBus.endpoint}   PutEvents (AWS JSON 1.1) · GET /events · GET /stats · PUT /faults`,
);
if (runtime.sqs)
  console.log(
    `  SQS       ${runtime.sqs.endpoint}   poison, failure and dead-letter queues · npm run outbox -- status`,
  );
console.log('Press Ctrl-C to stop.');

const shutdown = createShutdown({ stop: () => runtime.stop(), exit: (code) => process.exit(code) });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, shutdown.onSignal);
// `kill -9` of npm leaves no signal to catch: notice that the parent is gone.
watchParent(() => shutdown.stopFor('The process that started this one is gone: stopping.', 0));
// Without its database the runtime only answers 500s: say so once and stop.
void runtime.dynamoDb.exited.then((exit) => {
  if (exit.expected) return;
  shutdown.stopFor(
    `DynamoDB Local (${runtime.dynamoDb.endpoint}) stopped: ${describeExit(exit)}. ` +
      'Stopping the runtime; start it again with `npm start`.',
    1,
  );
});
