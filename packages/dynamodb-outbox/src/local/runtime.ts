import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localClientConfig } from './clients.js';
import { type DynamoDbLocal, startDynamoDbLocal } from './dynamodb.js';
import { checkEmulation } from './emulation.js';
import {
  type AcceptedEvent,
  type LocalEventBus,
  type LocalEventBusOptions,
  startLocalEventBus,
} from './event-bus.js';
import { directoryFailureDestination } from './failure-destination.js';
import {
  type AsyncInvokeConfig,
  type InvocationOutcome,
  invokeAsync,
  type LocalFunction,
  loadFunction,
} from './functions.js';
import {
  type HttpApiHandler,
  type HttpRoute,
  type LocalHttpApi,
  type ResponseInfo,
  startLocalHttpApi,
} from './http-server.js';
import { type EndpointFunction, type LocalLambdaEndpoint, startLambdaEndpoint } from './lambda-endpoint.js';
import { arn, type LocalNames, localNames, ofType, STREAM_PREFIX, TABLE_TYPES, tablesOf } from './names.js';
import { claimPort, DEFAULT_PORTS } from './ports.js';
import { type LocalSqs, startLocalSqs } from './sqs.js';
import {
  FileCheckpointStore,
  InMemoryCheckpointStore,
  latestStreamArn,
  type OnFailureDestination,
  type StreamFailureRecord,
  StreamPoller,
  type StreamPollerOptions,
} from './stream-poller.js';
import {
  assemblyStacks,
  type RecordedEntry,
  readCdkApp,
  recordedEntries,
  type Synthesized,
  synthesize,
} from './synth.js';
import { createTables } from './tables.js';
import {
  constructPath,
  describeResource,
  NotEmulatedError,
  type Resource,
  referencedId,
  resolveValue,
  type Template,
  templateSchema,
} from './template.js';

/**
 * The offline runtime: synthesizes the CDK app (offline, no bundling, cached) and runs what the
 * stack's template declares — tables in DynamoDB Local, functions from their sources with their
 * resolved environments, stream event source mappings in a poller, EventBridge rules and targets
 * on a local PutEvents endpoint, asynchronous invocation config, schedules, SQS queues and the
 * HTTP API's routes. What the template uses but the runtime cannot run stops start-up.
 */
export interface LocalRuntimeOptions {
  /** The CDK app's directory (its cdk.json). @default the current directory */
  readonly appDir?: string;
  /** @default cdk.json's `app` */
  readonly appCommand?: string;
  /** The stack to run. @default the app's only stack, else the one whose name starts with DynamoDbOutbox */
  readonly stack?: string;
  /** Context over cdk.json's, as `-c key=value` gives it. */
  readonly context?: Readonly<Record<string, unknown>>;
  /** HTTP port of the API; 0 picks a free one. @default 3000 */
  readonly apiPort?: number;
  /** DynamoDB Local's port; 0 picks a free one. @default 8000 */
  readonly dynamoDbPort?: number;
  /**
   * Directory for DynamoDB Local's data, the mappings' checkpoints and the buckets.
   * @default in memory, and buckets in a temporary directory removed on stop
   */
  readonly dynamoDbDataPath?: string;
  /** Local EventBridge port; 0 picks a free one. @default 4010; a free one when apiPort is 0 */
  readonly eventBridgePort?: number;
  /** SQS stand-in port; 0 picks a free one. @default 9324; a free one when apiPort is 0 */
  readonly sqsPort?: number;
  /** Lambda endpoint port (Invoke, ListFunctions); 0 picks a free one. @default 3001; a free one when apiPort is 0 */
  readonly lambdaPort?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Fault injection, seed and retry delays of the local bus. */
  readonly eventBusOptions?: Omit<LocalEventBusOptions, 'port' | 'host' | 'onAccepted' | 'eventBusName'>;
  /** Offline pacing of the stream pollers (not deployed settings: those come from the template). */
  readonly pollerTiming?: Pick<
    StreamPollerOptions,
    'pollIntervalMs' | 'retryDelayMs' | 'maxRetryDelayMs' | 'shardDiscoveryIntervalMs'
  >;
  /** Start the stream mappings. @default true */
  readonly streams?: boolean;
  /** Run scheduled rules on their timers. @default true */
  readonly schedules?: boolean;
  /** Delays before Lambda's asynchronous retries (1 and 2 minutes on AWS). @default [1000, 2000] */
  readonly asyncRetryDelaysMs?: readonly number[];
  readonly onApiResponse?: (info: ResponseInfo) => void;
  readonly onEventAccepted?: (accepted: AcceptedEvent) => void;
  /**
   * Log level of every function on the console: an offline choice, not a deployed setting.
   * @default POWERTOOLS_LOG_LEVEL of this process, else the template's
   */
  readonly logLevel?: string;
  /** Every invocation of every function, with its outcome. */
  readonly onInvoke?: (outcome: InvocationOutcome) => void;
  /** Told when the app is synthesized (a cold cache), before it starts. */
  readonly onSynthStart?: () => void;
}

export interface LocalMapping {
  readonly logicalId: string;
  readonly path: string;
  /** The poller now running; replaced by `restart()`. */
  readonly poller: StreamPoller;
  /** Batches the mapping gave up on, as sent to its on-failure destination. */
  readonly failures: readonly StreamFailureRecord[];
  /** Stop and start again from the checkpoints; with `crash`, the batch in flight is not checkpointed. */
  restart(options?: { readonly crash?: boolean }): Promise<void>;
}

export interface LocalRuntime {
  readonly stackName: string;
  /** Buckets of the stack, by local name → the directory that stands for it. */
  readonly buckets: ReadonlyMap<string, string>;
  readonly synth: Synthesized;
  readonly template: Template;
  /** Resource types the runtime reads past (alarms, IAM, ...). */
  readonly notEmulated: readonly string[];
  /** The stack's outputs, resolved to local names. */
  readonly outputs: Readonly<Record<string, string>>;
  readonly apiUrl: string | undefined;
  readonly dynamoDb: DynamoDbLocal;
  readonly eventBus: LocalEventBus;
  readonly sqs: LocalSqs;
  /** The Lambda API's Invoke and ListFunctions over the stack's functions. */
  readonly lambda: LocalLambdaEndpoint;
  readonly functions: readonly LocalFunction[];
  readonly mappings: readonly LocalMapping[];
  /** The local name of the table whose construct path contains `path`. */
  tableName(path: string): string;
  /** The function whose construct path contains `path`. */
  function(path: string): LocalFunction;
  /**
   * The function a caller names: its FunctionName (the template's, else its logical id), its ARN,
   * or a fragment of its construct path that no other function's path has.
   */
  findFunction(name: string): LocalFunction | undefined;
  /** The stream mapping whose construct path contains `path`. */
  mapping(path: string): LocalMapping;
  /** The local URL of the queue whose construct path contains `path`. */
  queueUrl(path: string): string;
  /** The messages now on the queue whose construct path contains `path`. */
  queueMessages(path: string): readonly { readonly id: string; readonly body: string }[];
  stop(): Promise<void>;
}

const chooseStack = (stacks: Map<string, string>, wanted: string | undefined): [string, string] => {
  if (wanted !== undefined) {
    const file = stacks.get(wanted);
    if (!file)
      throw new NotEmulatedError(`No stack ${wanted} in the app; it has ${[...stacks.keys()].join(', ')}`);
    return [wanted, file];
  }
  const all = [...stacks.entries()];
  const only = all.length === 1 ? all[0] : all.find(([name]) => name.startsWith('DynamoDbOutbox'));
  if (!only)
    throw new NotEmulatedError(
      `The app has ${all.length} stacks; choose one: ${[...stacks.keys()].join(', ')}`,
    );
  return only;
};

/** The resource of `types` whose logical id is `path`, or whose construct path holds it as whole segments. */
const findByPath = (template: Template, types: readonly string[], path: string): string => {
  const found = Object.entries(template.Resources).filter(
    ([id, r]) =>
      types.includes(r.Type) &&
      (id === path || `/${constructPath(r)}/`.includes(`/${path.replace(/^\/+|\/+$/g, '')}/`)),
  );
  if (found.length !== 1)
    throw new Error(`${found.length === 0 ? 'No' : 'More than one'} ${types.join(' or ')} matches "${path}"`);
  return (found[0] as [string, Resource])[0];
};

const RATE_UNITS_MS: Readonly<Record<string, number>> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** `rate(5 minutes)` → 300000; undefined for what is not a rate (cron is not emulated). */
const rateMs = (expression: string): number | undefined => {
  const match = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression);
  return match ? Number(match[1]) * (RATE_UNITS_MS[match[2] ?? ''] ?? 0) : undefined;
};

const targetSchema = z.strictObject({
  Arn: z.unknown(),
  Id: z.string(),
  RetryPolicy: z
    .object({ MaximumRetryAttempts: z.number().optional(), MaximumEventAgeInSeconds: z.number().optional() })
    .optional(),
  DeadLetterConfig: z.object({ Arn: z.unknown() }).optional(),
});

/** Lambda's defaults for asynchronous invocation without an EventInvokeConfig. */
const ASYNC_DEFAULTS = { maximumRetryAttempts: 2, maximumEventAgeSeconds: 6 * 3600 } as const;

/** Components stop last started first; a failure half-way stops what did start. */
class Lifecycle {
  private readonly stops: Array<() => Promise<unknown>> = [];
  private stopping: Promise<void> | undefined;

  onStop(stop: () => Promise<unknown>): void {
    this.stops.push(stop);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const failures: unknown[] = [];
      for (const stopOne of this.stops.reverse()) {
        try {
          await stopOne();
        } catch (error) {
          failures.push(error);
        }
      }
      if (failures.length) throw new AggregateError(failures, 'Some local components did not stop cleanly');
    })();
    return this.stopping;
  }
}

/** What every step reads: the template, its local names and the shared plumbing. */
interface Wiring {
  readonly template: Template;
  readonly names: LocalNames;
  readonly options: LocalRuntimeOptions;
  readonly lifecycle: Lifecycle;
  resolveIn(id: string, resource: Resource, value: unknown): unknown;
  /** The function a property (`Ref`/`Fn::GetAtt`) of the resource points at. */
  functionOf(id: string, resource: Resource, value: unknown): LocalFunction;
  /** A message to the queue of the stack with this ARN. */
  sendTo(queueArn: string, body: unknown): Promise<void>;
}

/** The extensions Lambda's Node.js runtimes try for a handler's module, in their order. */
const HANDLER_EXTENSIONS = ['.mjs', '.js', '.cjs'] as const;

/**
 * Where a function's code is: the entry the recorder saw its NodejsFunction (or
 * PowertoolsFunction) bundle at synthesis, else, for a function deployed from an asset directory
 * as it is (`Code.fromAsset(dir)`: the engine's prebuilt relay and reconciler), the file its
 * Handler names in the asset staged in the cloud assembly (`aws:asset:path`). Other code cannot
 * run offline, and says so.
 */
const functionSource = (
  id: string,
  resource: Resource,
  recorded: RecordedEntry | undefined,
  assemblyDir: string,
): { entry: string; exportName: string } => {
  if (recorded !== undefined)
    return { entry: recorded.entry, exportName: recorded.handler.split('.').pop() ?? 'handler' };
  const handler = String(resource.Properties.Handler ?? 'index.handler');
  const assetPath = resource.Metadata?.['aws:asset:path'];
  const module = handler.slice(0, handler.lastIndexOf('.'));
  const staged =
    typeof assetPath === 'string'
      ? HANDLER_EXTENSIONS.map((ext) => join(assemblyDir, assetPath, `${module}${ext}`)).find(existsSync)
      : undefined;
  if (staged === undefined)
    throw new NotEmulatedError(
      `${describeResource(id, resource)}: no handler source was recorded at synthesis and no asset directory ` +
        `holds ${module}.mjs, .js or .cjs, so it cannot run offline: define it with NodejsFunction ` +
        '(or PowertoolsFunction), whose entry the runtime runs',
    );
  return { entry: staged, exportName: handler.split('.').pop() ?? 'handler' };
};

/** Every function in its own worker, loading in parallel; they end with the runtime. */
const loadFunctions = (
  template: Template,
  entries: (id: string) => RecordedEntry | undefined,
  assemblyDir: string,
  resolveIn: Wiring['resolveIn'],
  baseEnvironment: Readonly<Record<string, string>>,
  options: LocalRuntimeOptions,
  lifecycle: Lifecycle,
): Promise<Map<string, LocalFunction>> => {
  const logLevel = options.logLevel ?? process.env.POWERTOOLS_LOG_LEVEL;
  // Every source known before any worker starts: a function that cannot run stops start-up at once.
  const sources = ofType(template, 'AWS::Lambda::Function').map(
    ([id, resource]) => [id, resource, functionSource(id, resource, entries(id), assemblyDir)] as const,
  );
  const loading = sources.map(([id, resource, source]) => {
    const variables =
      (resource.Properties.Environment as { Variables?: unknown } | undefined)?.Variables ?? {};
    const environment = resolveIn(id, resource, variables) as Record<string, unknown>;
    const load = loadFunction(
      {
        logicalId: id,
        path: constructPath(resource),
        ...source,
        timeoutSeconds: Number(resource.Properties.Timeout ?? 3),
        environment: {
          ...Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, String(v)])),
          ...(logLevel ? { POWERTOOLS_LOG_LEVEL: logLevel } : {}),
        },
      },
      baseEnvironment,
      options.onInvoke,
    );
    return [id, load] as const;
  });
  const settled = Promise.allSettled(loading.map(([, load]) => load));
  lifecycle.onStop(async () =>
    Promise.all((await settled).flatMap((r) => (r.status === 'fulfilled' ? [r.value.stop()] : []))),
  );
  return settled.then((results) => {
    const failed = results.find((r) => r.status === 'rejected');
    if (failed?.status === 'rejected') throw failed.reason;
    return new Map(
      results.map((r, i) => [loading[i]?.[0] ?? '', (r as PromiseFulfilledResult<LocalFunction>).value]),
    );
  });
};

/**
 * The function a caller names, as the Lambda API and the CLI's `invoke` name one: its name, its
 * ARN (full or partial, a qualifier dropped), or a fragment of one construct path.
 */
const functionFinder =
  (template: Template, names: LocalNames, functions: ReadonlyMap<string, LocalFunction>) =>
  (wanted: string): LocalFunction | undefined => {
    const name = /(?:^|:)function:([^:]+)/.exec(wanted)?.[1] ?? wanted;
    for (const [id, fn] of functions) if (names.ref(id) === name || id === name) return fn;
    const byPath = [...functions.entries()].filter(([id]) => {
      const resource = template.Resources[id];
      return resource !== undefined && constructPath(resource).includes(wanted);
    });
    return byPath.length === 1 ? byPath[0]?.[1] : undefined;
  };

/** Lambda's asynchronous invocation settings per function (EventInvokeConfig), with its defaults. */
const asyncConfigs = (wiring: Wiring): ((fn: LocalFunction) => AsyncInvokeConfig) => {
  const retryDelaysMs = wiring.options.asyncRetryDelaysMs ?? [1000, 2000];
  const configs = new Map<string, AsyncInvokeConfig>();
  for (const [id, resource] of ofType(wiring.template, 'AWS::Lambda::EventInvokeConfig')) {
    const fn = wiring.functionOf(id, resource, resource.Properties.FunctionName);
    const p = wiring.resolveIn(id, resource, resource.Properties) as {
      MaximumRetryAttempts?: number;
      MaximumEventAgeInSeconds?: number;
      DestinationConfig?: { OnFailure?: { Destination?: string } };
    };
    const onFailure = p.DestinationConfig?.OnFailure?.Destination;
    configs.set(fn.definition.logicalId, {
      maximumRetryAttempts: p.MaximumRetryAttempts ?? ASYNC_DEFAULTS.maximumRetryAttempts,
      maximumEventAgeSeconds: p.MaximumEventAgeInSeconds ?? ASYNC_DEFAULTS.maximumEventAgeSeconds,
      retryDelaysMs,
      ...(onFailure ? { onFailure: (record) => wiring.sendTo(onFailure, record) } : {}),
    });
  }
  return (fn) => configs.get(fn.definition.logicalId) ?? { ...ASYNC_DEFAULTS, retryDelaysMs };
};

/**
 * Rules: event patterns on the local bus, schedules on timers. Lambda targets are invoked
 * asynchronously, as EventBridge does: a function error follows the function's async config, not
 * the rule's retry policy, which covers delivery. Returns the dead-letter queue ARN per subscription.
 */
const wireRules = (
  wiring: Wiring,
  eventBus: LocalEventBus,
  configOf: (fn: LocalFunction) => AsyncInvokeConfig,
): Map<string, string> => {
  const deadLetters = new Map<string, string>();
  const timers: NodeJS.Timeout[] = [];
  wiring.lifecycle.onStop(async () => {
    for (const timer of timers) clearInterval(timer);
  });
  for (const [id, resource] of ofType(wiring.template, 'AWS::Events::Rule')) {
    if (resource.Properties.State === 'DISABLED') continue;
    const targets = z.array(targetSchema).safeParse(resource.Properties.Targets ?? []);
    if (!targets.success)
      throw new NotEmulatedError(
        `${describeResource(id, resource)}: a target property is not emulated (Input, InputTransformer, ...)`,
      );
    for (const target of targets.data) {
      const fn = wiring.functionOf(id, resource, target.Arn);
      const invoke = (event: unknown) => invokeAsync(fn, configOf(fn), event);
      const schedule = resource.Properties.ScheduleExpression;
      if (typeof schedule === 'string') {
        const every = rateMs(schedule);
        if (every === undefined)
          throw new NotEmulatedError(
            `${describeResource(id, resource)}: schedule ${schedule} is not emulated (rate only)`,
          );
        if (wiring.options.schedules ?? true) {
          const scheduled = { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };
          const timer = setInterval(() => void invoke(scheduled), every);
          timer.unref();
          timers.push(timer);
        }
        continue;
      }
      // By the rule's logical id (its local ARN's name), as `replay --rule` finds it.
      const subscription = targets.data.length === 1 ? id : `${id}/${target.Id}`;
      const deadLetter = target.DeadLetterConfig
        ? wiring.resolveIn(id, resource, target.DeadLetterConfig.Arn)
        : undefined;
      if (typeof deadLetter === 'string') deadLetters.set(subscription, deadLetter);
      eventBus.subscribe(
        {
          name: subscription,
          eventPattern: wiring.resolveIn(id, resource, resource.Properties.EventPattern) as Record<
            string,
            unknown
          >,
          retry: {
            maximumRetryAttempts: target.RetryPolicy?.MaximumRetryAttempts ?? 185,
            maximumEventAgeSeconds: target.RetryPolicy?.MaximumEventAgeInSeconds ?? 86_400,
          },
        },
        invoke,
      );
    }
  }
  return deadLetters;
};

/** Stream event source mappings, each a poller with the template's settings. */
const startMappings = async (wiring: Wiring, dynamoDb: DynamoDbLocal): Promise<LocalMapping[]> => {
  const { options } = wiring;
  const streams = new DynamoDBStreamsClient(localClientConfig(dynamoDb.endpoint));
  wiring.lifecycle.onStop(async () => streams.destroy());
  const mappings: LocalMapping[] = [];
  for (const [id, resource] of ofType(wiring.template, 'AWS::Lambda::EventSourceMapping')) {
    const fn = wiring.functionOf(id, resource, resource.Properties.FunctionName);
    const p = wiring.resolveIn(id, resource, resource.Properties) as Record<string, unknown>;
    const source = String(p.EventSourceArn);
    if (!source.startsWith(STREAM_PREFIX))
      throw new NotEmulatedError(
        `${describeResource(id, resource)}: only DynamoDB stream sources are emulated`,
      );
    const streamArn = await latestStreamArn(dynamoDb.client, source.slice(STREAM_PREFIX.length));
    const destination = (p.DestinationConfig as { OnFailure?: { Destination?: string } } | undefined)
      ?.OnFailure?.Destination;
    const bucketDir = destination?.startsWith('arn:aws:s3:::')
      ? wiring.names.buckets.get(destination.slice('arn:aws:s3:::'.length))
      : undefined;
    const toDestination: OnFailureDestination | undefined = bucketDir
      ? directoryFailureDestination(bucketDir, { mappingUuid: id })
      : destination
        ? (failure) => wiring.sendTo(destination, failure)
        : undefined;
    const failures: StreamFailureRecord[] = [];
    const checkpoints = options.dynamoDbDataPath
      ? new FileCheckpointStore(join(options.dynamoDbDataPath, `stream-checkpoints-${id}.json`))
      : new InMemoryCheckpointStore();
    const filters = (p.FilterCriteria as { Filters?: Array<{ Pattern: string }> } | undefined)?.Filters ?? [];
    const newPoller = () =>
      new StreamPoller({
        ...options.pollerTiming,
        client: streams,
        streamArn,
        handler: (event) => fn.invoke(event) as ReturnType<StreamPollerOptions['handler']>,
        filterPatterns: filters.map((f) => f.Pattern),
        batchSize: Number(p.BatchSize ?? 100),
        maximumBatchingWindowMs: Number(p.MaximumBatchingWindowInSeconds ?? 0) * 1000,
        startingPosition: p.StartingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON',
        reportBatchItemFailures: ((p.FunctionResponseTypes ?? []) as string[]).includes(
          'ReportBatchItemFailures',
        ),
        bisectBatchOnFunctionError: p.BisectBatchOnFunctionError === true,
        maximumRetryAttempts: Number(p.MaximumRetryAttempts ?? -1),
        maximumRecordAgeSeconds: Number(p.MaximumRecordAgeInSeconds ?? -1),
        functionArn: arn('lambda', `function:${fn.definition.logicalId}`),
        checkpoints,
        onFailure: async (failure, records) => {
          await toDestination?.(failure, records);
          failures.push(failure);
        },
      });
    let poller = newPoller();
    if ((options.streams ?? true) && p.Enabled !== false) poller.start();
    let stopped = false;
    wiring.lifecycle.onStop(async () => {
      stopped = true;
      await poller.stop();
    });
    mappings.push({
      logicalId: id,
      path: constructPath(resource),
      get poller() {
        return poller;
      },
      failures,
      restart: async ({ crash = false } = {}) => {
        await (crash ? poller.crash() : poller.stop());
        if (stopped) return;
        poller = newPoller();
        poller.start();
      },
    });
  }
  return mappings;
};

/** The HTTP API's routes (Lambda proxy integrations, payload 2.0) on one local front. */
const startHttpApi = async (wiring: Wiring, port: number): Promise<LocalHttpApi | undefined> => {
  const integrations = new Map<string, LocalFunction>();
  for (const [id, resource] of ofType(wiring.template, 'AWS::ApiGatewayV2::Integration')) {
    const { IntegrationType, PayloadFormatVersion, IntegrationUri } = resource.Properties;
    if (IntegrationType !== 'AWS_PROXY' || PayloadFormatVersion !== '2.0')
      throw new NotEmulatedError(
        `${describeResource(id, resource)}: only Lambda proxy integrations with payload 2.0 are emulated`,
      );
    integrations.set(id, wiring.functionOf(id, resource, IntegrationUri));
  }
  const routes = new Map<string, HttpRoute & { fn: LocalFunction }>();
  for (const [id, resource] of ofType(wiring.template, 'AWS::ApiGatewayV2::Route')) {
    const routeKey = String(resource.Properties.RouteKey);
    const [method, path] = routeKey.split(' ');
    const target = String(wiring.resolveIn(id, resource, resource.Properties.Target));
    const fn = integrations.get(target.replace(/^integrations\//, ''));
    if (!method || !path || !fn)
      throw new NotEmulatedError(`${describeResource(id, resource)}: route ${routeKey} is not emulated`);
    routes.set(routeKey, { method, path, fn });
  }
  if (routes.size === 0) return undefined;
  const handler: HttpApiHandler = async (event) =>
    (await routes.get(event.routeKey)?.fn.invoke(event)) as Awaited<ReturnType<HttpApiHandler>>;
  const { options } = wiring;
  const api = await startLocalHttpApi({
    routes: [...routes.values()],
    handler,
    port,
    ...(options.host ? { host: options.host } : {}),
    ...(options.onApiResponse ? { onResponse: options.onApiResponse } : {}),
  });
  wiring.lifecycle.onStop(() => api.close());
  return api;
};

export const startLocalRuntime = async (options: LocalRuntimeOptions = {}): Promise<LocalRuntime> => {
  const app = readCdkApp(options.appDir ?? process.cwd(), options.context ?? {}, options.appCommand);
  const synth = await synthesize(app, options.onSynthStart ? { onSynthStart: options.onSynthStart } : {});
  const [stackName, templateFile] = chooseStack(assemblyStacks(synth.outdir), options.stack);
  const template = templateSchema.parse(JSON.parse(readFileSync(templateFile, 'utf8')));
  const plan = checkEmulation(template);
  const lifecycle = new Lifecycle();

  try {
    const apiPort = options.apiPort ?? DEFAULT_PORTS.api;
    const freePorts = apiPort === 0;
    if (apiPort !== 0) await claimPort(apiPort);
    // DynamoDB Local (a JVM) starts while the rest is set up and the functions load.
    const dynamoDbPort = await claimPort(options.dynamoDbPort ?? DEFAULT_PORTS.dynamoDb);
    const dynamoDbStarting = startDynamoDbLocal(dynamoDbPort, options.dynamoDbDataPath);
    lifecycle.onStop(async () => (await dynamoDbStarting.catch(() => undefined))?.stop());
    const sqsPort = options.sqsPort ?? (freePorts ? 0 : DEFAULT_PORTS.sqs);
    if (sqsPort !== 0) await claimPort(sqsPort);
    const lambdaPort = options.lambdaPort ?? (freePorts ? 0 : DEFAULT_PORTS.lambda);
    if (lambdaPort !== 0) await claimPort(lambdaPort);
    const sqs = await startLocalSqs({ port: sqsPort, ...(options.host ? { host: options.host } : {}) });
    const sqsClient = new SQSClient(localClientConfig(sqs.endpoint));
    lifecycle.onStop(async () => {
      sqsClient.destroy();
      await sqs.stop();
    });
    const bucketsDir = options.dynamoDbDataPath
      ? join(options.dynamoDbDataPath, 'buckets')
      : await mkdtemp(join(tmpdir(), 'outbox-buckets-'));
    if (!options.dynamoDbDataPath) lifecycle.onStop(() => rm(bucketsDir, { recursive: true, force: true }));

    const names = localNames(template, { queueUrl: (name) => sqs.createQueue(name), bucketsDir });
    // Each bucket's directory exists from the start, as the bucket does: `redrive --from-failures`
    // takes a missing one for a wrong path.
    await Promise.all([...names.buckets.values()].map((dir) => mkdir(dir, { recursive: true })));
    const resolveIn: Wiring['resolveIn'] = (id, resource, value) =>
      resolveValue(value, { names, region: LOCAL_REGION, stackName, at: describeResource(id, resource) });
    const sendTo: Wiring['sendTo'] = async (queueArn, body) => {
      const name = queueArn.startsWith('arn:aws:sqs:') ? queueArn.split(':').pop() : undefined;
      if (name === undefined)
        throw new NotEmulatedError(`Destination ${queueArn} is not a queue of the stack`);
      await sqsClient.send(
        new SendMessageCommand({ QueueUrl: sqs.queueUrl(name), MessageBody: JSON.stringify(body) }),
      );
    };

    let deadLetters = new Map<string, string>();
    const eventBus = await startLocalEventBus({
      ...options.eventBusOptions,
      ...(names.busName ? { eventBusName: names.busName } : {}),
      port: options.eventBridgePort ?? (freePorts ? 0 : DEFAULT_PORTS.eventBridge),
      ...(options.host ? { host: options.host } : {}),
      ...(options.onEventAccepted ? { onAccepted: options.onEventAccepted } : {}),
      onDeadLetter: (deadLetter) => {
        options.eventBusOptions?.onDeadLetter?.(deadLetter);
        const queueArn = deadLetters.get(deadLetter.subscription);
        if (queueArn)
          sendTo(queueArn, deadLetter.event).catch((error: unknown) =>
            console.error('Could not write the dead letter to its queue:', error),
          );
      },
    });
    lifecycle.onStop(() => eventBus.stop());

    // Every client of every function reaches the local endpoints.
    const entries = recordedEntries(synth.outdir);
    const loading = loadFunctions(
      template,
      (id) => entries.get(`${stackName}/${id}`),
      synth.outdir,
      resolveIn,
      {
        AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${dynamoDbPort}`,
        AWS_ENDPOINT_URL_DYNAMODB_STREAMS: `http://127.0.0.1:${dynamoDbPort}`,
        AWS_ENDPOINT_URL_EVENTBRIDGE: eventBus.endpoint,
        AWS_ENDPOINT_URL_SQS: sqs.endpoint,
        AWS_REGION: LOCAL_REGION,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      },
      options,
      lifecycle,
    );
    const dynamoDb = await dynamoDbStarting;
    await createTables(dynamoDb.client, tablesOf(template), names);
    const functions = await loading;

    const wiring: Wiring = {
      template,
      names,
      options,
      lifecycle,
      resolveIn,
      sendTo,
      functionOf: (id, resource, value) => {
        const target = referencedId(value);
        const fn = target === undefined ? undefined : functions.get(target);
        if (!fn)
          throw new NotEmulatedError(
            `${describeResource(id, resource)}: its function is not a function of the stack`,
          );
        return fn;
      },
    };
    const configOf = asyncConfigs(wiring);
    deadLetters = wireRules(wiring, eventBus, configOf);
    const mappings = await startMappings(wiring, dynamoDb);
    const api = await startHttpApi(wiring, apiPort);
    const findFunction = functionFinder(template, names, functions);
    const endpointFunction = (fn: LocalFunction): EndpointFunction => {
      const resource = template.Resources[fn.definition.logicalId];
      const name = names.ref(fn.definition.logicalId) ?? fn.definition.logicalId;
      return {
        name,
        arn: arn('lambda', `function:${name}`),
        runtime: String(resource?.Properties.Runtime ?? 'nodejs'),
        handler: String(resource?.Properties.Handler ?? 'index.handler'),
        timeoutSeconds: fn.definition.timeoutSeconds,
        memorySize: Number(resource?.Properties.MemorySize ?? 128),
        invoke: (event) => fn.invoke(event),
        invokeAsync: (event) => invokeAsync(fn, configOf(fn), event),
      };
    };
    const lambda = await startLambdaEndpoint({
      port: lambdaPort,
      ...(options.host ? { host: options.host } : {}),
      find: (name) => {
        const fn = findFunction(name);
        return fn && endpointFunction(fn);
      },
      functions: () => [...functions.values()].map(endpointFunction),
    });
    lifecycle.onStop(() => lambda.stop());

    const outputs = Object.fromEntries(
      Object.entries(template.Outputs ?? {}).map(([key, output]) => [
        key,
        String(resolveValue(output.Value, { names, region: LOCAL_REGION, stackName, at: `output ${key}` })),
      ]),
    );
    const byPath = <T>(types: readonly string[], path: string, pick: (id: string) => T | undefined): T => {
      const found = pick(findByPath(template, types, path));
      if (found === undefined) throw new Error(`"${path}" is not running`);
      return found;
    };
    return {
      stackName,
      buckets: names.buckets,
      synth,
      template,
      notEmulated: plan.notEmulated,
      outputs,
      apiUrl: api?.url,
      dynamoDb,
      eventBus,
      sqs,
      lambda,
      functions: [...functions.values()],
      mappings,
      tableName: (path) => byPath(TABLE_TYPES, path, (id) => names.ref(id)),
      function: (path) => byPath(['AWS::Lambda::Function'], path, (id) => functions.get(id)),
      findFunction,
      mapping: (path) =>
        byPath(['AWS::Lambda::EventSourceMapping'], path, (id) => mappings.find((m) => m.logicalId === id)),
      queueUrl: (path) => byPath(['AWS::SQS::Queue'], path, (id) => names.ref(id)),
      queueMessages: (path) =>
        sqs.messages(byPath(['AWS::SQS::Queue'], path, (id) => names.getAtt(id, 'QueueName'))),
      stop: () => lifecycle.stop(),
    };
  } catch (error) {
    await lifecycle.stop().catch(() => undefined);
    throw error;
  }
};
