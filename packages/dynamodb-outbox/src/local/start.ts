import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AcceptedEvent } from './event-bus.js';
import type { InvocationOutcome } from './functions.js';
import type { ResponseInfo } from './http-server.js';
import { parseContextArgs, SynthError } from './synth.js';

/**
 * `npm start [-- -c key=value ...]`: the CDK app offline, as its template declares it. PORT
 * (default 3000) serves the HTTP API, DYNAMODB_PORT (default 8000) DynamoDB Local, in memory
 * unless DYNAMODB_DATA_DIR names a directory, EVENTBRIDGE_PORT (default 4010) the local
 * EventBridge endpoint, SQS_PORT (default 9324) the queues. STACK picks the stack. Context given
 * with -c changes the offline run exactly as it changes the deployment. Ctrl-C stops all, and so
 * do SIGTERM, SIGHUP, the end of the process that started this one (npm, even killed with SIGKILL)
 * and the end of DynamoDB Local (exit status 1). DynamoDB Local itself exits with this process,
 * however it ends (see local/DynamoDbLocalLauncher.java).
 */

// Before any handler module loads: the Powertools singletons read their settings on import.
const localDefaults: Record<string, string> = {
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  // EMF lines would flood the console; CloudWatch is where metrics matter.
  POWERTOOLS_METRICS_DISABLED: 'true',
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
let context: Record<string, string> = {};
try {
  context = parseContextArgs(process.argv.slice(2));
} catch (error) {
  fail(error instanceof SynthError ? error.message : String(error));
}

const reportResponse = (info: ResponseInfo): void => {
  console.log(
    `http            ${info.method} ${info.path}  ${info.statusCode}  ${Math.round(info.durationMs)} ms`,
  );
};

const seenEventIds = new Set<string>();
const reportEvent = ({ event, receivedAt }: AcceptedEvent): void => {
  const { eventId, occurredAt } = event.detail;
  if (typeof eventId !== 'string') return;
  const lag = typeof occurredAt === 'string' ? Date.parse(receivedAt) - Date.parse(occurredAt) : Number.NaN;
  const again = seenEventIds.has(eventId) ? '  (again: delivery is at least once)' : '';
  seenEventIds.add(eventId);
  console.log(
    `event published ${eventId}  ${event.source} ${event['detail-type']}${Number.isNaN(lag) ? '' : `  lag ${lag}ms`}${again}`,
  );
};

/** Consumers' results, as far as they say what happened: the outbox consumer's duplicate flag, an outcome. */
const reportInvocation = (outcome: InvocationOutcome): void => {
  if (!outcome.ok) {
    console.log(`function failed ${outcome.function}: ${outcome.error?.message ?? 'unknown error'}`);
    return;
  }
  const result = outcome.result as { duplicate?: unknown; outcome?: unknown; eventId?: unknown } | undefined;
  if (typeof result?.eventId !== 'string') return;
  const what =
    result.duplicate === true
      ? 'duplicate skipped'
      : typeof result.outcome === 'string'
        ? result.outcome
        : 'done';
  console.log(`event consumed  ${result.eventId}  ${outcome.function}: ${what}`);
};

const { startLocalRuntime } = await import('./runtime.js');
const { PortInUseError } = await import('./http-server.js');
const { describeExit } = await import('./dynamodb.js');
const { createShutdown, watchParent } = await import('./shutdown.js');

const started = performance.now();
const runtime = await startLocalRuntime({
  apiPort,
  dynamoDbPort,
  eventBridgePort,
  sqsPort,
  context,
  logLevel: process.env.LOG_LEVEL || 'WARN',
  ...(process.env.STACK ? { stack: process.env.STACK } : {}),
  ...(dataDir ? { dynamoDbDataPath: dataDir } : {}),
  onApiResponse: reportResponse,
  onEventAccepted: reportEvent,
  onInvoke: reportInvocation,
  onSynthStart: () =>
    console.log('Synthesizing the CDK app (offline, no bundling); cached for the next start…'),
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

// What `npm run outbox` reads offline, as it reads a deployed stack's outputs.
const outputsFile = join(process.cwd(), '.local', 'outputs.json');
mkdirSync(join(process.cwd(), '.local'), { recursive: true });
writeFileSync(
  outputsFile,
  `${JSON.stringify({ stack: runtime.stackName, outputs: runtime.outputs }, null, 2)}\n`,
);

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
console.log(
  `dynamodb-outbox is running ${runtime.stackName} offline (ready in ${seconds(performance.now() - started)}; ` +
    `template ${runtime.synth.cached ? 'from the cache' : `synthesized in ${seconds(runtime.synth.durationMs)}`})`,
);
if (runtime.apiUrl) console.log(`  HTTP API    ${runtime.apiUrl}`);
console.log(`  DynamoDB    ${runtime.dynamoDb.endpoint}   ${dataDir ? `data in ${dataDir}` : 'in memory'}`);
console.log(
  `  EventBridge ${runtime.eventBus.endpoint}   PutEvents · GET /events · GET /stats · PUT /faults`,
);
console.log(`  SQS         ${runtime.sqs.endpoint}   npm run outbox -- status`);
console.log(
  `  running     ${runtime.functions.length} functions, ${runtime.mappings.length} stream mappings; ` +
    `context ${
      Object.keys(context).length
        ? Object.entries(context)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')
        : 'from cdk.json'
    }`,
);
for (const [bucket, dir] of runtime.buckets)
  console.log(`  S3 bucket   ${bucket} → ${dir}   (npm run outbox -- redrive --from-failures ${dir})`);
console.log(`  not emulated (no offline behaviour): ${runtime.notEmulated.join(', ')}`);
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
