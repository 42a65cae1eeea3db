import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OutboxOutput, outboxOutputKey, outboxPrefixes } from '../runtime/stack-outputs.js';
import { createEventReporter, describeInvocation } from './console.js';
import type { FaultSettings } from './event-bus/fault-settings.js';
import type { ResponseInfo } from './http-server.js';
import { DEFAULT_PORTS } from './ports.js';
import { parseContextArgs, SynthError } from './synth.js';

/**
 * `dynamodb-outbox local [-c key=value ...]`: the CDK app of the current directory offline, as
 * its template declares it. PORT (default 3000) serves the HTTP API, DYNAMODB_PORT (default 8000)
 * DynamoDB Local, in memory unless DYNAMODB_DATA_DIR names a directory, EVENTBRIDGE_PORT (default
 * 4010) the local EventBridge endpoint, SQS_PORT (default 9324) the queues, LAMBDA_PORT (default
 * 3001) the Lambda endpoint (Invoke, ListFunctions). EVENTBRIDGE_FAULTS sets the local bus's fault
 * injection from the start (JSON, as PUT /faults takes it). STACK picks the stack. Context given with -c
 * changes the offline run exactly as it changes the deployment.
 *
 * It runs until SIGINT, SIGTERM or SIGHUP, or until DynamoDB Local ends (exit status 1), and
 * stops everything then; it outlives the shell or script that started it in the background.
 * DynamoDB Local itself exits with this process, however it ends (see DynamoDbLocalLauncher.java).
 */

const USAGE = `Usage: dynamodb-outbox local [-c key=value ...]

Runs the CDK app of this directory (its cdk.json) offline: synthesized without bundling
(cached while the files of cdk.json's watch settings are unchanged), its template executed.

  -c, --context key=value   context over cdk.json's, as cdk synth takes it (repeatable)

Environment: PORT (HTTP API, 3000), DYNAMODB_PORT (8000), EVENTBRIDGE_PORT (4010),
SQS_PORT (9324), LAMBDA_PORT (3001), DYNAMODB_DATA_DIR (data on disk instead of in memory),
STACK (the stack to run, when the app has several), LOG_LEVEL (functions' log level, WARN),
EVENTBRIDGE_FAULTS (the local bus's fault settings from the start, as PUT /faults takes them:
'{"seed":42,"entryFailureRate":0.2}'; the seed is printed, drawn when not given).
Stops on SIGINT, SIGTERM or SIGHUP, and leaves nothing running.`;

// Before any handler module loads: the Powertools singletons read their settings on import.
const localDefaults: Record<string, string> = {
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  // EMF lines would flood the console; CloudWatch is where metrics matter.
  POWERTOOLS_METRICS_DISABLED: 'true',
};

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

const reportResponse = (info: ResponseInfo): void => {
  console.log(
    `http            ${info.method} ${info.path}  ${info.statusCode}  ${Math.round(info.durationMs)} ms`,
  );
};

export const runLocal = async (argv: readonly string[]): Promise<void> => {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  for (const [name, value] of Object.entries(localDefaults)) process.env[name] ??= value;
  const apiPort = portFromEnv('PORT', DEFAULT_PORTS.api);
  const dynamoDbPort = portFromEnv('DYNAMODB_PORT', DEFAULT_PORTS.dynamoDb);
  const eventBridgePort = portFromEnv('EVENTBRIDGE_PORT', DEFAULT_PORTS.eventBridge);
  const sqsPort = portFromEnv('SQS_PORT', DEFAULT_PORTS.sqs);
  const lambdaPort = portFromEnv('LAMBDA_PORT', DEFAULT_PORTS.lambda);
  const dataDir = process.env.DYNAMODB_DATA_DIR ? resolve(process.env.DYNAMODB_DATA_DIR) : undefined;
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  let context: Record<string, string> = {};
  try {
    context = parseContextArgs(argv);
  } catch (error) {
    fail(error instanceof SynthError ? error.message : String(error));
  }
  const { parseFaultSettingsJson } = await import('./event-bus/fault-settings.js');
  let faults: Partial<FaultSettings> | undefined;
  try {
    if (process.env.EVENTBRIDGE_FAULTS) faults = parseFaultSettingsJson(process.env.EVENTBRIDGE_FAULTS);
  } catch (error) {
    fail(`EVENTBRIDGE_FAULTS: ${error instanceof Error ? error.message : String(error)}`);
  }
  const reportEvent = createEventReporter();

  const { startLocalRuntime } = await import('./runtime.js');
  const { PortInUseError } = await import('./http-server.js');
  const { describeExit } = await import('./dynamodb.js');
  const { createShutdown } = await import('./shutdown.js');

  const started = performance.now();
  const starting = startLocalRuntime({
    apiPort,
    dynamoDbPort,
    eventBridgePort,
    sqsPort,
    lambdaPort,
    context,
    logLevel: process.env.LOG_LEVEL || 'WARN',
    ...(process.env.STACK ? { stack: process.env.STACK } : {}),
    ...(dataDir ? { dynamoDbDataPath: dataDir } : {}),
    ...(faults ? { eventBusOptions: { faults } } : {}),
    onApiResponse: reportResponse,
    onEventAccepted: (accepted) => {
      const line = reportEvent(accepted);
      if (line) console.log(line);
    },
    onInvoke: (outcome) => {
      const line = describeInvocation(outcome);
      if (line) console.log(line);
    },
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
              : error.port === lambdaPort
                ? 'LAMBDA_PORT'
                : 'DYNAMODB_PORT';
      return fail(
        `Port ${error.port} is already in use (${variable}). Stop the process listening on it, ` +
          `or choose another port, e.g. ${variable}=${error.port + 1} dynamodb-outbox local`,
      );
    }
    return fail(error instanceof Error ? error.message : String(error));
  });
  // From the start: a signal during the synthesis or the start-up stops what did start.
  const shutdown = createShutdown({
    stop: async () => (await starting).stop(),
    exit: (code) => process.exit(code),
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, shutdown.onSignal);
  // Started in the background, the reader of its output may be gone before it: keep serving.
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  const runtime = await starting;

  // What `dynamodb-outbox status|redrive|replay` reads offline, as it reads a deployed stack's outputs.
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
    `  EventBridge ${runtime.eventBus.endpoint}   PutEvents · GET /events · GET /stats · PUT /faults   ` +
      `fault seed ${runtime.eventBus.faults.seed}`,
  );
  // With several outboxes the CLI needs to be told which: the hints name it.
  const outboxes = outboxPrefixes(runtime.outputs);
  const outboxFlag = (prefix: string | undefined) =>
    outboxes.length > 1 ? ` --outbox ${prefix ?? `<${outboxes.join('|')}>`}` : '';
  const ownerOfBucket = (bucket: string) =>
    outboxes.find((p) => runtime.outputs[outboxOutputKey(p, OutboxOutput.FailureBucketName)] === bucket);
  console.log(`  SQS         ${runtime.sqs.endpoint}   dynamodb-outbox status${outboxFlag(undefined)}`);
  console.log(
    `  Lambda      ${runtime.lambda.endpoint}   Invoke · ListFunctions   dynamodb-outbox invoke <function> '{…}'`,
  );
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
    console.log(
      `  S3 bucket   ${bucket} → ${dir}   (dynamodb-outbox redrive${outboxFlag(ownerOfBucket(bucket))} --from-failures ${dir})`,
    );
  console.log(`  not emulated (no offline behaviour): ${runtime.notEmulated.join(', ')}`);
  console.log('Press Ctrl-C to stop.');

  // Without its database the runtime only answers 500s: say so once and stop.
  void runtime.dynamoDb.exited.then((exit) => {
    if (exit.expected) return;
    shutdown.stopFor(
      `DynamoDB Local (${runtime.dynamoDb.endpoint}) stopped: ${describeExit(exit)}. ` +
        'Stopping the runtime; start it again with `dynamodb-outbox local`.',
      1,
    );
  });
};
