import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AttributeDefinition,
  type CreateTableCommandInput,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { ENTRY_METADATA } from '../lib/outbox/metadata';
import { LOCAL_REGION, localClientConfig } from './clients';
import { createTableAndWait, type DynamoDbLocal, startDynamoDbLocal, tableExists } from './dynamodb';
import { checkEmulation } from './emulation';
import {
  type AcceptedEvent,
  type LocalEventBus,
  type LocalEventBusOptions,
  startLocalEventBus,
} from './event-bus';
import { directoryFailureDestination } from './failure-destination';
import {
  type AsyncInvokeConfig,
  type FunctionDefinition,
  type InvocationOutcome,
  invokeAsync,
  type LocalFunction,
  loadFunction,
} from './functions';
import {
  type HttpApiHandler,
  type HttpRoute,
  type LocalHttpApi,
  type ResponseInfo,
  startLocalHttpApi,
} from './http-server';
import { claimPort } from './ports';
import { type LocalSqs, startLocalSqs } from './sqs';
import {
  type CheckpointStore,
  FileCheckpointStore,
  InMemoryCheckpointStore,
  latestStreamArn,
  type OnFailureDestination,
  type StreamFailureRecord,
  StreamPoller,
  type StreamPollerOptions,
} from './stream-poller';
import { assemblyStacks, type CdkApp, readCdkApp, type Synthesized, synthesize } from './synth';
import {
  constructPath,
  describeResource,
  LOCAL_ACCOUNT,
  type Names,
  NotEmulatedError,
  type Resource,
  referencedId,
  resolveValue,
  type Template,
  templateSchema,
} from './template';

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
  readonly functions: readonly LocalFunction[];
  readonly mappings: readonly LocalMapping[];
  /** The local name of the table whose construct path contains `path`. */
  tableName(path: string): string;
  /** The function whose construct path contains `path`. */
  function(path: string): LocalFunction;
  /** The stream mapping whose construct path contains `path`. */
  mapping(path: string): LocalMapping;
  /** The local URL of the queue whose construct path contains `path`. */
  queueUrl(path: string): string;
  /** The messages now on the queue whose construct path contains `path`. */
  queueMessages(path: string): readonly { readonly id: string; readonly body: string }[];
  stop(): Promise<void>;
}

/** Where the runtime's ports are claimed, for callers that start parts themselves (benchmarks). */
export { claimPort };

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

const ofType = (template: Template, type: string): Array<[string, Resource]> =>
  Object.entries(template.Resources).filter(([, r]) => r.Type === type);

const findByPath = (template: Template, types: readonly string[], path: string): [string, Resource] => {
  const found = Object.entries(template.Resources).filter(
    ([id, r]) => types.includes(r.Type) && (id === path || constructPath(r).includes(path)),
  );
  if (found.length !== 1)
    throw new Error(`${found.length === 0 ? 'No' : 'More than one'} ${types.join(' or ')} matches "${path}"`);
  return found[0] as [string, Resource];
};

const rateMs = (expression: string): number | undefined => {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (!match) return undefined;
  const unit = match[2]?.startsWith('minute')
    ? 60_000
    : match[2]?.startsWith('hour')
      ? 3_600_000
      : 86_400_000;
  return Number(match[1]) * unit;
};

const arn = (service: string, resource: string) =>
  `arn:aws:${service}:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${resource}`;

const streamArnPlaceholder = (table: string) => `local-stream:${table}`;

const targetSchema = z
  .object({
    Arn: z.unknown(),
    Id: z.string(),
    RetryPolicy: z
      .object({
        MaximumRetryAttempts: z.number().optional(),
        MaximumEventAgeInSeconds: z.number().optional(),
      })
      .optional(),
    DeadLetterConfig: z.object({ Arn: z.unknown() }).optional(),
  })
  .strict();

export const startLocalRuntime = async (options: LocalRuntimeOptions = {}): Promise<LocalRuntime> => {
  const app: CdkApp = readCdkApp(options.appDir ?? process.cwd(), options.context ?? {}, options.appCommand);
  const synth = await synthesize(app, {
    ...(options.onSynthStart ? { onSynthStart: options.onSynthStart } : {}),
  });
  const [stackName, templateFile] = chooseStack(assemblyStacks(synth.outdir), options.stack);
  const { readFileSync } = await import('node:fs');
  const template = templateSchema.parse(JSON.parse(readFileSync(templateFile, 'utf8')));
  const plan = checkEmulation(template);

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
    const freePorts = apiPort === 0;
    if (apiPort !== 0) await claimPort(apiPort);
    // DynamoDB Local (a JVM) starts while the rest is set up and the functions load.
    const dynamoDbPort = await claimPort(options.dynamoDbPort ?? 8000);
    const dynamoDbStarting = startDynamoDbLocal(dynamoDbPort, options.dynamoDbDataPath);
    stops.push(async () => (await dynamoDbStarting.catch(() => undefined))?.stop());
    const sqsPort = options.sqsPort ?? (freePorts ? 0 : 9324);
    if (sqsPort !== 0) await claimPort(sqsPort);
    const sqs = await startLocalSqs({ port: sqsPort, ...(options.host ? { host: options.host } : {}) });
    const sqsClient = new SQSClient(localClientConfig(sqs.endpoint));
    stops.push(async () => {
      sqsClient.destroy();
      await sqs.stop();
    });

    // Local names: what Ref and Fn::GetAtt of each resource resolve to.
    const refs = new Map<string, string>();
    const atts = new Map<string, string>();
    const buses = ofType(template, 'AWS::Events::EventBus');
    if (buses.length > 1)
      throw new NotEmulatedError('More than one event bus: the local endpoint emulates one');
    for (const [id, resource] of ofType(template, 'AWS::SQS::Queue')) {
      const name = typeof resource.Properties.QueueName === 'string' ? resource.Properties.QueueName : id;
      refs.set(id, sqs.createQueue(name));
      atts.set(`${id}.Arn`, arn('sqs', name));
      atts.set(`${id}.QueueName`, name);
    }
    const tables = [
      ...ofType(template, 'AWS::DynamoDB::GlobalTable'),
      ...ofType(template, 'AWS::DynamoDB::Table'),
    ];
    for (const [id, resource] of tables) {
      const name = typeof resource.Properties.TableName === 'string' ? resource.Properties.TableName : id;
      refs.set(id, name);
      atts.set(`${id}.Arn`, arn('dynamodb', `table/${name}`));
      atts.set(`${id}.StreamArn`, streamArnPlaceholder(name));
    }
    for (const [id, resource] of buses) {
      const name = String(resource.Properties.Name ?? id);
      refs.set(id, name);
      atts.set(`${id}.Name`, name);
      atts.set(`${id}.Arn`, arn('events', `event-bus/${name}`));
    }
    for (const [id] of ofType(template, 'AWS::Lambda::Function')) {
      refs.set(id, id);
      atts.set(`${id}.Arn`, arn('lambda', `function:${id}`));
    }
    const buckets = new Map<string, string>();
    const bucketsDir = options.dynamoDbDataPath
      ? join(options.dynamoDbDataPath, 'buckets')
      : await mkdtemp(join(tmpdir(), 'outbox-buckets-'));
    if (!options.dynamoDbDataPath) stops.push(() => rm(bucketsDir, { recursive: true, force: true }));
    for (const [id, resource] of ofType(template, 'AWS::S3::Bucket')) {
      const name =
        typeof resource.Properties.BucketName === 'string'
          ? resource.Properties.BucketName
          : id.toLowerCase();
      refs.set(id, name);
      atts.set(`${id}.Arn`, `arn:aws:s3:::${name}`);
      buckets.set(name, join(bucketsDir, name));
    }
    for (const [id] of ofType(template, 'AWS::Events::Rule'))
      atts.set(`${id}.Arn`, arn('events', `rule/${id}`));
    for (const [id] of ofType(template, 'AWS::Events::Archive')) {
      refs.set(id, id);
      atts.set(`${id}.Arn`, arn('events', `archive/${id}`));
    }
    for (const [id] of ofType(template, 'AWS::ApiGatewayV2::Integration')) refs.set(id, id);
    for (const [id] of ofType(template, 'AWS::ApiGatewayV2::Api')) refs.set(id, id);
    const names: Names = {
      ref: (id) => refs.get(id),
      getAtt: (id, attribute) => atts.get(`${id}.${attribute}`),
    };
    const resolveIn = (id: string, resource: Resource, value: unknown): unknown =>
      resolveValue(value, { names, region: LOCAL_REGION, stackName, at: describeResource(id, resource) });
    const queueNameOfArn = (value: string): string | undefined =>
      value.startsWith('arn:aws:sqs:') ? value.split(':').pop() : undefined;
    const sendTo = async (queueArn: string, body: unknown): Promise<void> => {
      const name = queueNameOfArn(queueArn);
      if (name === undefined)
        throw new NotEmulatedError(`Destination ${queueArn} is not a queue of the stack`);
      await sqsClient.send(
        new SendMessageCommand({ QueueUrl: sqs.queueUrl(name), MessageBody: JSON.stringify(body) }),
      );
    };

    // The local bus.
    const busName = buses[0] ? (refs.get(buses[0][0]) as string) : undefined;
    const eventBus = await startLocalEventBus({
      ...options.eventBusOptions,
      ...(busName ? { eventBusName: busName } : {}),
      port: options.eventBridgePort ?? (freePorts ? 0 : 4010),
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
    stops.push(() => eventBus.stop());
    const deadLetters = new Map<string, string>();

    // Functions: every client of theirs reaches the local endpoints.
    const endpoints: Record<string, string> = {
      AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${dynamoDbPort}`,
      AWS_ENDPOINT_URL_DYNAMODB_STREAMS: `http://127.0.0.1:${dynamoDbPort}`,
      AWS_ENDPOINT_URL_EVENTBRIDGE: eventBus.endpoint,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    };
    const baseEnvironment = {
      ...endpoints,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    };
    const functions = new Map<string, LocalFunction>();
    const loading: Array<[string, Promise<LocalFunction>]> = [];
    const logLevel = options.logLevel ?? process.env.POWERTOOLS_LOG_LEVEL;
    for (const [id, resource] of ofType(template, 'AWS::Lambda::Function')) {
      const entry = resource.Metadata?.[ENTRY_METADATA];
      if (typeof entry !== 'string')
        throw new NotEmulatedError(
          `${describeResource(id, resource)}: no ${ENTRY_METADATA} metadata, so its source is unknown (define it with PowertoolsFunction)`,
        );
      const environment = resolveIn(
        id,
        resource,
        (resource.Properties.Environment as { Variables?: unknown })?.Variables ?? {},
      ) as Record<string, unknown>;
      const definition: FunctionDefinition = {
        logicalId: id,
        path: constructPath(resource),
        entry,
        exportName:
          String(resource.Properties.Handler ?? 'index.handler')
            .split('.')
            .pop() ?? 'handler',
        timeoutSeconds: Number(resource.Properties.Timeout ?? 3),
        environment: {
          ...Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, String(v)])),
          ...(logLevel ? { POWERTOOLS_LOG_LEVEL: logLevel } : {}),
        },
      };
      loading.push([id, loadFunction(app.dir, definition, baseEnvironment, options.onInvoke)]);
    }
    // Workers end with the runtime, loaded or still loading.
    stops.push(async () => {
      const settled = await Promise.allSettled(loading.map(([, load]) => load));
      await Promise.all(
        settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value.stop()] : [])),
      );
    });
    const dynamoDb = await dynamoDbStarting;
    // Tables, as the template declares them.
    for (const [id, resource] of tables) {
      const name = refs.get(id) as string;
      if (await tableExists(dynamoDb.client, name)) continue;
      const p = resource.Properties as Record<string, unknown>;
      const stream = p.StreamSpecification as { StreamViewType?: string } | undefined;
      const indexes = (p.GlobalSecondaryIndexes ?? []) as Array<{
        IndexName: string;
        KeySchema: unknown;
        Projection: unknown;
      }>;
      const input: CreateTableCommandInput = {
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: p.AttributeDefinitions as AttributeDefinition[],
        KeySchema: p.KeySchema as CreateTableCommandInput['KeySchema'],
        ...(indexes.length
          ? {
              GlobalSecondaryIndexes: indexes.map((index) => ({
                IndexName: index.IndexName,
                KeySchema: index.KeySchema as NonNullable<CreateTableCommandInput['KeySchema']>,
                Projection: index.Projection as { ProjectionType: 'ALL' },
              })),
            }
          : {}),
        ...(stream?.StreamViewType
          ? {
              StreamSpecification: {
                StreamEnabled: true,
                StreamViewType: stream.StreamViewType as 'NEW_IMAGE',
              },
            }
          : {}),
      };
      await createTableAndWait(dynamoDb.client, input);
      const ttl = p.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
      if (ttl?.AttributeName && ttl.Enabled !== false)
        await dynamoDb.client.send(
          new UpdateTimeToLiveCommand({
            TableName: name,
            TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true },
          }),
        );
    }

    // Every worker loads at once, and while DynamoDB Local started: the cores stay busy.
    const loaded = await Promise.allSettled(loading.map(([, load]) => load));
    loaded.forEach((result, i) => {
      const id = loading[i]?.[0] ?? '';
      if (result.status === 'fulfilled') functions.set(id, result.value);
    });
    const failedLoad = loaded.find((result) => result.status === 'rejected');
    if (failedLoad?.status === 'rejected') throw failedLoad.reason;
    const functionOf = (id: string, resource: Resource, value: unknown): LocalFunction => {
      const target = referencedId(value);
      const fn = target === undefined ? undefined : functions.get(target);
      if (!fn)
        throw new NotEmulatedError(
          `${describeResource(id, resource)}: its function is not a function of the stack`,
        );
      return fn;
    };

    // Asynchronous invocation config (EventInvokeConfig), per function.
    const asyncConfigs = new Map<string, AsyncInvokeConfig>();
    const retryDelaysMs = options.asyncRetryDelaysMs ?? [1000, 2000];
    for (const [id, resource] of ofType(template, 'AWS::Lambda::EventInvokeConfig')) {
      const fn = functionOf(id, resource, resource.Properties.FunctionName);
      const p = resolveIn(id, resource, resource.Properties) as {
        MaximumRetryAttempts?: number;
        MaximumEventAgeInSeconds?: number;
        DestinationConfig?: { OnFailure?: { Destination?: string } };
      };
      const onFailure = p.DestinationConfig?.OnFailure?.Destination;
      asyncConfigs.set(fn.definition.logicalId, {
        maximumRetryAttempts: p.MaximumRetryAttempts ?? 2,
        maximumEventAgeSeconds: p.MaximumEventAgeInSeconds ?? 6 * 3600,
        retryDelaysMs,
        ...(onFailure ? { onFailure: (record) => sendTo(onFailure, record) } : {}),
      });
    }
    const asyncConfigOf = (fn: LocalFunction): AsyncInvokeConfig =>
      asyncConfigs.get(fn.definition.logicalId) ?? {
        maximumRetryAttempts: 2,
        maximumEventAgeSeconds: 6 * 3600,
        retryDelaysMs,
      };

    // Rules: event patterns on the local bus, schedules on timers. Lambda targets are invoked
    // asynchronously, as EventBridge does: function errors follow the function's async config.
    const timers: NodeJS.Timeout[] = [];
    stops.push(async () => {
      for (const timer of timers) clearInterval(timer);
    });
    for (const [id, resource] of ofType(template, 'AWS::Events::Rule')) {
      if (resource.Properties.State === 'DISABLED') continue;
      const targets = z.array(targetSchema).safeParse(resource.Properties.Targets ?? []);
      if (!targets.success)
        throw new NotEmulatedError(
          `${describeResource(id, resource)}: a target property is not emulated (Input, InputTransformer, ...)`,
        );
      for (const target of targets.data) {
        const fn = functionOf(id, resource, target.Arn);
        const invoke = (event: unknown) => invokeAsync(fn, asyncConfigOf(fn), event);
        const schedule = resource.Properties.ScheduleExpression;
        if (typeof schedule === 'string') {
          const every = rateMs(schedule);
          if (every === undefined)
            throw new NotEmulatedError(
              `${describeResource(id, resource)}: schedule ${schedule} is not emulated (rate only)`,
            );
          if (options.schedules ?? true) {
            const timer = setInterval(
              () => void invoke({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }),
              every,
            );
            timer.unref();
            timers.push(timer);
          }
          continue;
        }
        const subscription = `${id}/${target.Id}`;
        const deadLetter = target.DeadLetterConfig
          ? resolveIn(id, resource, target.DeadLetterConfig.Arn)
          : undefined;
        if (typeof deadLetter === 'string') deadLetters.set(subscription, deadLetter);
        eventBus.subscribe(
          {
            name: subscription,
            eventPattern: resolveIn(id, resource, resource.Properties.EventPattern) as Record<
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

    // Stream event source mappings.
    const streams = new DynamoDBStreamsClient(localClientConfig(dynamoDb.endpoint));
    stops.push(async () => streams.destroy());
    const mappings: LocalMapping[] = [];
    for (const [id, resource] of ofType(template, 'AWS::Lambda::EventSourceMapping')) {
      const fn = functionOf(id, resource, resource.Properties.FunctionName);
      const p = resolveIn(id, resource, resource.Properties) as Record<string, unknown>;
      const source = String(p.EventSourceArn);
      if (!source.startsWith('local-stream:'))
        throw new NotEmulatedError(
          `${describeResource(id, resource)}: only DynamoDB stream sources are emulated`,
        );
      const streamArn = await latestStreamArn(dynamoDb.client, source.slice('local-stream:'.length));
      const onFailure = (p.DestinationConfig as { OnFailure?: { Destination?: string } } | undefined)
        ?.OnFailure?.Destination;
      const failures: StreamFailureRecord[] = [];
      const bucketDir = onFailure?.startsWith('arn:aws:s3:::')
        ? buckets.get(onFailure.slice('arn:aws:s3:::'.length))
        : undefined;
      const toDestination: OnFailureDestination = bucketDir
        ? directoryFailureDestination(bucketDir, { mappingUuid: id })
        : (failure) => sendTo(String(onFailure), failure);
      const checkpoints: CheckpointStore = options.dynamoDbDataPath
        ? new FileCheckpointStore(join(options.dynamoDbDataPath, `stream-checkpoints-${id}.json`))
        : new InMemoryCheckpointStore();
      const newPoller = () =>
        new StreamPoller({
          ...options.pollerTiming,
          client: streams,
          streamArn,
          handler: (event) => fn.invoke(event) as ReturnType<StreamPollerOptions['handler']>,
          filterPatterns: (
            (p.FilterCriteria as { Filters?: Array<{ Pattern: string }> } | undefined)?.Filters ?? []
          ).map((f) => f.Pattern),
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
            if (onFailure) await toDestination(failure, records);
            failures.push(failure);
          },
        });
      let poller = newPoller();
      const enabled = (options.streams ?? true) && p.Enabled !== false;
      if (enabled) poller.start();
      let stopped = false;
      stops.push(async () => {
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

    // The HTTP API: one local front, its routes from the template.
    const integrations = new Map<string, LocalFunction>();
    for (const [id, resource] of ofType(template, 'AWS::ApiGatewayV2::Integration')) {
      if (
        resource.Properties.IntegrationType !== 'AWS_PROXY' ||
        resource.Properties.PayloadFormatVersion !== '2.0'
      )
        throw new NotEmulatedError(
          `${describeResource(id, resource)}: only Lambda proxy integrations with payload 2.0 are emulated`,
        );
      integrations.set(id, functionOf(id, resource, resource.Properties.IntegrationUri));
    }
    const routes: Array<HttpRoute & { fn: LocalFunction }> = [];
    for (const [id, resource] of ofType(template, 'AWS::ApiGatewayV2::Route')) {
      const [method, path] = String(resource.Properties.RouteKey).split(' ');
      const target = String(resolveIn(id, resource, resource.Properties.Target));
      const fn = integrations.get(target.replace(/^integrations\//, ''));
      if (!method || !path || !fn)
        throw new NotEmulatedError(
          `${describeResource(id, resource)}: route ${String(resource.Properties.RouteKey)} is not emulated`,
        );
      routes.push({ method, path, fn });
    }
    let api: LocalHttpApi | undefined;
    if (routes.length > 0) {
      const byRouteKey = new Map(routes.map((r) => [`${r.method} ${r.path}`, r.fn]));
      const handler: HttpApiHandler = async (event) =>
        (await byRouteKey.get(event.routeKey)?.invoke(event)) as Awaited<ReturnType<HttpApiHandler>>;
      api = await startLocalHttpApi({
        routes,
        handler,
        port: apiPort,
        ...(options.host ? { host: options.host } : {}),
        ...(options.onApiResponse ? { onResponse: options.onApiResponse } : {}),
      });
      const started = api;
      stops.push(() => started.close());
    }

    const outputs = Object.fromEntries(
      Object.entries(template.Outputs ?? {}).map(([key, output]) => [
        key,
        String(resolveValue(output.Value, { names, region: LOCAL_REGION, stackName, at: `output ${key}` })),
      ]),
    );
    const byPath = <T>(types: readonly string[], path: string, pick: (id: string) => T | undefined): T => {
      const [id] = findByPath(template, types, path);
      const found = pick(id);
      if (found === undefined) throw new Error(`"${path}" is not running`);
      return found;
    };
    return {
      stackName,
      buckets,
      synth,
      template,
      notEmulated: plan.notEmulated,
      outputs,
      apiUrl: api?.url,
      dynamoDb,
      eventBus,
      sqs,
      functions: [...functions.values()],
      mappings,
      tableName: (path) =>
        byPath(['AWS::DynamoDB::GlobalTable', 'AWS::DynamoDB::Table'], path, (id) => refs.get(id)),
      function: (path) => byPath(['AWS::Lambda::Function'], path, (id) => functions.get(id)),
      mapping: (path) =>
        byPath(['AWS::Lambda::EventSourceMapping'], path, (id) => mappings.find((m) => m.logicalId === id)),
      queueUrl: (path) => byPath(['AWS::SQS::Queue'], path, (id) => refs.get(id)),
      queueMessages: (path) =>
        sqs.messages(byPath(['AWS::SQS::Queue'], path, (id) => atts.get(`${id}.QueueName`))),
      stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
};
