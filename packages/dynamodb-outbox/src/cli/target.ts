import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { LOCAL_REGION, localClientConfig } from '../local/clients.js';
import { DEFAULT_PORTS } from '../local/ports.js';
import { type OutboxLayout, outboxLayoutSchema, TIME_ORDERED_TABLE_LAYOUT } from '../runtime/layout.js';
import {
  OutboxOutput,
  type OutboxOutputName,
  outboxOutputKey,
  outboxPrefixes,
  QUEUE_URL_OUTPUT_SUFFIX,
  RULE_ARN_OUTPUT_SUFFIX,
} from '../runtime/stack-outputs.js';
import { answers, diagnoseLocal, type LocalEndpoints } from './local-health.js';
import { UsageError } from './usage-error.js';

export interface QueueRef {
  readonly name: string;
  readonly url: string;
}

/** Where `replay` replays from: the local bus's history, or the stack's archive. */
export type ReplaySource =
  | {
      readonly kind: 'local';
      readonly endpoint: string;
      /** Rule ARNs by the name in their `<name>RuleArn` output (npm start's outputs). */
      readonly rules: Readonly<Record<string, string>>;
    }
  | {
      readonly kind: 'aws';
      readonly archiveArn?: string;
      readonly eventBusArn?: string;
      /** Rule ARNs by the name in their `<name>RuleArn` output. */
      readonly rules: Readonly<Record<string, string>>;
    };

/** The rules a stack's outputs name: every `<name>RuleArn`. */
const rulesOf = (outputs: Readonly<Record<string, string>>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(outputs)
      .filter(([key]) => key.endsWith(RULE_ARN_OUTPUT_SUFFIX))
      .map(([key, arn]) => [key.slice(0, -RULE_ARN_OUTPUT_SUFFIX.length), arn]),
  );

/** Where the outbox lives and the clients to reach it: DynamoDB Local and friends, or AWS. */
export interface OutboxTarget {
  readonly description: string;
  /** AWS region, when known. */
  readonly region?: string;
  /** Set by `resolveTarget`. */
  readonly replay?: ReplaySource;
  readonly doc: DynamoDBDocumentClient;
  readonly eventBridge: EventBridgeClient;
  readonly sqs: SQSClient;
  readonly tableName: string;
  /**
   * How outbox items are keyed in the table, and so how they are listed by time: by the table's
   * key (time-ordered table) or by its time index (same table).
   */
  readonly layout: OutboxLayout;
  /** The bus a redrive republishes to: `--bus`, else the outbox's output. */
  readonly eventBusName?: string;
  /** The source a redrive republishes with: `--source`, else the outbox's output. */
  readonly source?: string;
  readonly retentionDays: number;
  readonly poisonQueueUrl?: string;
  /** The relay mapping's failure bucket (the stack's RelayFailureBucketName output), on AWS. */
  readonly failureBucketName?: string;
  readonly queues: readonly QueueRef[];
  /** What could not be found, for the operator to read with the results. */
  readonly notes: readonly string[];
  /** Set for the offline runtime: where its endpoints are, to tell what is down. */
  readonly localEndpoints?: LocalEndpoints;
  destroy(): void;
}

export interface TargetOptions {
  /** The local runtime even with `--table` (a table the stack's outputs do not name). */
  readonly local?: boolean;
  readonly stack?: string;
  /** Which outbox of the outputs, by its construct id, when they hold several. */
  readonly outbox?: string;
  readonly table?: string;
  readonly bus?: string;
  readonly source?: string;
  readonly poisonQueueUrl?: string;
  /** `name=url` pairs. */
  readonly queues?: readonly string[];
  readonly retentionDays?: string;
  /**
   * The table's layout: `time-ordered-table`, or a layout as JSON (what the `<id>Layout` output holds).
   * @default the outbox's Layout output, else `time-ordered-table` (TransactionalOutbox's default)
   */
  readonly layout?: string;
  readonly region?: string;
  /**
   * The local runtime's stack outputs (what `dynamodb-outbox local` writes to .local/outputs.json).
   * @default read from that file when it exists
   */
  readonly outputs?: Readonly<Record<string, string>>;
  /** The archive `replay` replays from. @default the stack's ArchiveArn output */
  readonly archiveArn?: string;
}

/**
 * Where `dynamodb-outbox local` leaves its stack's outputs, resolved to local names, for the CLI:
 * relative to the app's directory, where both run.
 */
export const LOCAL_OUTPUTS_FILE = join('.local', 'outputs.json');

/** The outputs file's outputs; undefined when there is no such file. */
const localOutputs = (): Record<string, string> | undefined => {
  if (!existsSync(LOCAL_OUTPUTS_FILE)) return undefined;
  const parsed = z
    .object({ outputs: z.record(z.string(), z.string()) })
    .safeParse(JSON.parse(readFileSync(LOCAL_OUTPUTS_FILE, 'utf8')));
  return parsed.success ? parsed.data.outputs : {};
};

/** The queues a stack's outputs name: every `<name>QueueUrl`. */
const queuesOf = (outputs: Readonly<Record<string, string>>): QueueRef[] =>
  Object.entries(outputs)
    .filter(([key]) => key.endsWith(QUEUE_URL_OUTPUT_SUFFIX))
    .map(([key, url]) => ({ name: key.slice(0, -QUEUE_URL_OUTPUT_SUFFIX.length), url }));

export { UsageError } from './usage-error.js';

/** One outbox's outputs, by name (no prefix); every name undefined when the outputs hold no outbox. */
export type OutboxOutputs = (name: OutboxOutputName) => string | undefined;

/**
 * The outbox the outputs describe (TransactionalOutbox's `<id>...` outputs): the only one, or the
 * one `wanted` names by its construct id. Several and none named is a usage error listing them.
 * `where` names the outputs' origin, for messages.
 */
export const pickOutbox = (
  outputs: Readonly<Record<string, string>>,
  wanted: string | undefined,
  where: string,
): OutboxOutputs => {
  const prefixes = outboxPrefixes(outputs);
  const listed = prefixes.length === 0 ? 'none' : prefixes.join(', ');
  let prefix: string | undefined;
  if (wanted !== undefined) {
    const asPrefix = wanted.replace(/[^A-Za-z0-9]/g, '').toLowerCase();
    prefix = prefixes.find((p) => p.toLowerCase() === asPrefix);
    if (prefix === undefined)
      throw new UsageError(`No outbox ${wanted} in ${where}; outboxes there: ${listed}`);
  } else if (prefixes.length > 1)
    throw new UsageError(
      `${where} hold ${prefixes.length} outboxes (${listed}): pick one with --outbox <id>`,
    );
  else prefix = prefixes[0];
  return (name) => (prefix === undefined ? undefined : outputs[outboxOutputKey(prefix, name)]);
};

/** The table, from the flag or the outbox's outputs; its absence said with what to pass. */
const tableOf = (options: TargetOptions, outbox: OutboxOutputs, where: string): string => {
  const table = options.table ?? outbox(OutboxOutput.TableName);
  if (table === undefined)
    throw new UsageError(
      `No outbox in ${where} (TransactionalOutbox outputs its table, layout, bus and queues there): ` +
        'pass --table <name>, with --layout, --bus and --source as the command needs them',
    );
  return table;
};

const queueName = (url: string): string => url.split('/').pop() ?? url;

const parseQueues = (pairs: readonly string[] = []): QueueRef[] =>
  pairs.map((pair) => {
    const at = pair.indexOf('=');
    if (at > 0) return { name: pair.slice(0, at), url: pair.slice(at + 1) };
    if (/^https?:\/\//.test(pair)) return { name: queueName(pair), url: pair };
    throw new UsageError(`--queue takes name=url or a queue URL, got "${pair}"`);
  });

const parseRetention = (raw: string | undefined): number | undefined => {
  if (raw === undefined) return undefined;
  const days = Number(raw);
  if (!Number.isInteger(days) || days < 1)
    throw new UsageError(`--retention-days must be a positive integer, got "${raw}"`);
  return days;
};

/**
 * Local unless told otherwise: with `--local`, or with neither `--stack` nor `--table` (nor
 * OUTBOX_STACK), the CLI talks to the offline runtime of `dynamodb-outbox local` on its default
 * ports (DYNAMODB_ENDPOINT, EVENTBRIDGE_ENDPOINT and SQS_ENDPOINT override them), and finds the
 * outbox in the outputs file it wrote in this directory.
 */
export const resolveTarget = async (
  options: TargetOptions,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<OutboxTarget> => {
  const stack = options.stack ?? env.OUTBOX_STACK;
  if (options.local && options.stack !== undefined)
    throw new UsageError('--local and --stack exclude each other');
  // The flags' own mistakes first: they need no runtime and no stack to be told.
  parseQueues(options.queues);
  parseRetention(options.retentionDays);
  if (options.layout !== undefined) layoutOf(options.layout, undefined);
  if (options.local || (stack === undefined && options.table === undefined)) return localTarget(options, env);
  return awsTarget(stack, options, env);
};

const localTarget = async (
  options: TargetOptions,
  env: Readonly<Record<string, string | undefined>>,
): Promise<OutboxTarget> => {
  const endpoints = localEndpoints(env);
  const region = options.region ?? LOCAL_REGION;
  // One attempt: a runtime that is not running should say so at once, not after retries. A
  // DynamoDB Local that accepts connections but never answers (a stopped JVM) times out.
  const dynamodb = new DynamoDBClient({
    ...localClientConfig(endpoints.dynamodb, region),
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 2000, requestTimeout: 10_000 },
  });
  const eventBridge = new EventBridgeClient({
    ...localClientConfig(endpoints.eventbridge, region),
    maxAttempts: 1,
  });
  const sqs = new SQSClient({ ...localClientConfig(endpoints.sqs, region), maxAttempts: 1 });
  const outputs = options.outputs ?? localOutputs();
  if (outputs === undefined && options.table === undefined) {
    dynamodb.destroy();
    eventBridge.destroy();
    sqs.destroy();
    throw await noLocalOutputs(endpoints);
  }
  const stackOutputs = outputs ?? {};
  const where = `the local runtime's outputs (${LOCAL_OUTPUTS_FILE})`;
  const outbox = pickOutbox(stackOutputs, options.outbox, where);
  const tableName = tableOf(options, outbox, where);
  let queues = [...queuesOf(stackOutputs), ...parseQueues(options.queues)];
  const notes: string[] = [];
  if (queues.length === 0) {
    try {
      const { QueueUrls = [] } = await sqs.send(new ListQueuesCommand({}));
      queues = QueueUrls.map((url) => ({ name: queueName(url), url }));
    } catch (error) {
      // The table can still be inspected: report the queues as unknown instead of failing.
      notes.push(unreachable('the local SQS stand-in', endpoints.sqs, error, 'local').message);
    }
  }
  return {
    description: `local runtime (DynamoDB ${endpoints.dynamodb}, EventBridge ${endpoints.eventbridge}, SQS ${endpoints.sqs})`,
    replay: { kind: 'local', endpoint: endpoints.eventbridge, rules: rulesOf(stackOutputs) },
    doc: DynamoDBDocumentClient.from(dynamodb),
    eventBridge,
    sqs,
    tableName,
    ...outboxSettings(options, outbox),
    queues,
    notes,
    localEndpoints: endpoints,
    destroy: () => {
      dynamodb.destroy();
      eventBridge.destroy();
      sqs.destroy();
    },
  };
};

/**
 * No outputs file here: the runtime is not running, or runs elsewhere. Which one, from whether
 * its DynamoDB Local answers.
 */
const noLocalOutputs = async (endpoints: LocalEndpoints): Promise<UsageError> => {
  const missing = `no ${LOCAL_OUTPUTS_FILE} in ${process.cwd()}`;
  if (!(await answers(endpoints.dynamodb))) return diagnoseLocal(endpoints, new Error(missing));
  return new UsageError(
    `The local runtime answers at ${endpoints.dynamodb}, but there is ${missing}: run the CLI in the ` +
      'directory of the app `dynamodb-outbox local` runs, or pass --table <name> (with --layout, --bus and --source as needed).',
  );
};

/** What the outbox's outputs say beside its table, each flag over its output. */
const outboxSettings = (options: TargetOptions, outbox: OutboxOutputs) => {
  const poison = options.poisonQueueUrl ?? outbox(OutboxOutput.PoisonQueueUrl);
  return {
    layout: layoutOf(options.layout, outbox(OutboxOutput.Layout)),
    ...optional('eventBusName', options.bus ?? outbox(OutboxOutput.EventBusName)),
    ...optional('source', options.source ?? outbox(OutboxOutput.EventSource)),
    // TransactionalOutbox's default retention, for a table named without its outputs.
    retentionDays: parseRetention(options.retentionDays ?? outbox(OutboxOutput.RetentionDays)) ?? 7,
    ...optional('poisonQueueUrl', poison),
  };
};

const awsTarget = async (
  stack: string | undefined,
  options: TargetOptions,
  env: Readonly<Record<string, string | undefined>>,
): Promise<OutboxTarget> => {
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const config = region ? { region } : {};
  let outputs: Record<string, string> = {};
  if (stack !== undefined) {
    const cloudFormation = new CloudFormationClient(config);
    try {
      const { Stacks = [] } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stack }));
      outputs = Object.fromEntries(
        (Stacks[0]?.Outputs ?? []).flatMap((o) =>
          o.OutputKey && o.OutputValue ? [[o.OutputKey, o.OutputValue]] : [],
        ),
      );
    } catch (error) {
      if (isConnectionError(error)) throw unreachable('CloudFormation', awsWhere(region), error, 'aws');
      throw new UsageError(
        `Cannot read the outputs of stack ${stack}${region ? ` in ${region}` : ''}: ${error instanceof Error ? error.message : String(error)}`,
      );
    } finally {
      cloudFormation.destroy();
    }
  }
  const where = stack === undefined ? 'the command line' : `the outputs of stack ${stack}`;
  const outbox = pickOutbox(outputs, options.outbox, where);
  const tableName = tableOf(options, outbox, where);
  const queues = [...queuesOf(outputs), ...parseQueues(options.queues)];
  const dynamodb = new DynamoDBClient(config);
  const eventBridge = new EventBridgeClient(config);
  const sqs = new SQSClient(config);
  return {
    description: stack === undefined ? `AWS (table ${tableName})` : `AWS stack ${stack}`,
    ...(region ? { region } : {}),
    replay: {
      kind: 'aws',
      ...optional('archiveArn', options.archiveArn ?? outbox(OutboxOutput.ArchiveArn)),
      ...optional('eventBusArn', outbox(OutboxOutput.EventBusArn)),
      rules: rulesOf(outputs),
    },
    doc: DynamoDBDocumentClient.from(dynamodb),
    eventBridge,
    sqs,
    tableName,
    ...outboxSettings(options, outbox),
    ...optional('failureBucketName', outbox(OutboxOutput.FailureBucketName)),
    queues,
    notes: queues.length === 0 ? ['No queues found: pass --queue name=url, or --stack for its outputs'] : [],
    destroy: () => {
      dynamodb.destroy();
      eventBridge.destroy();
      sqs.destroy();
    },
  };
};

/** A layout `--layout` can name instead of spelling its JSON: the construct's fixed ones. */
const NAMED_LAYOUTS: Readonly<Record<string, OutboxLayout>> = {
  [TIME_ORDERED_TABLE_LAYOUT.kind]: TIME_ORDERED_TABLE_LAYOUT,
};

/**
 * The table's layout: `--layout`, else the outbox's Layout output, else the dedicated time-ordered
 * table TransactionalOutbox creates by default.
 */
const layoutOf = (flag: string | undefined, output: string | undefined): OutboxLayout => {
  if (flag !== undefined) {
    const named = NAMED_LAYOUTS[flag];
    if (named) return named;
    const parsed = parseLayout(flag);
    if (parsed) return parsed;
    throw new UsageError(
      `--layout takes ${Object.keys(NAMED_LAYOUTS).join(' or ')}, or an outbox layout as JSON (the outbox's <id>Layout output), got "${flag}"`,
    );
  }
  if (output === undefined) return TIME_ORDERED_TABLE_LAYOUT;
  const parsed = parseLayout(output);
  if (parsed) return parsed;
  throw new UsageError("The outbox's Layout output is not an outbox layout");
};

const parseLayout = (raw: string): OutboxLayout | undefined => {
  try {
    return outboxLayoutSchema.parse(JSON.parse(raw));
  } catch {
    return undefined;
  }
};

const optional = <K extends string>(key: K, value: string | undefined) =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, string>>;

/** Where the local runtime listens, as `dynamodb-outbox local` and the variables that move it say. */
export const localEndpoints = (env: Readonly<Record<string, string | undefined>>): LocalEndpoints => ({
  dynamodb: env.DYNAMODB_ENDPOINT || `http://127.0.0.1:${env.DYNAMODB_PORT || DEFAULT_PORTS.dynamoDb}`,
  eventbridge:
    env.EVENTBRIDGE_ENDPOINT || `http://127.0.0.1:${env.EVENTBRIDGE_PORT || DEFAULT_PORTS.eventBridge}`,
  sqs: env.SQS_ENDPOINT || `http://127.0.0.1:${env.SQS_PORT || DEFAULT_PORTS.sqs}`,
});

const awsWhere = (region: string | undefined): string =>
  region ? `AWS region ${region}` : 'AWS (no region set: AWS_REGION or --region)';

/** Node's and the SDK's codes for "the other end is not there". */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** The failing socket's code and port, from the error or its cause (fetch wraps it as `cause`). */
const socketFailure = (error: unknown): { code?: string; port?: number } | undefined => {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 3; depth++) {
    const { code, port } = e as { code?: unknown; port?: unknown };
    if (typeof code === 'string' && CONNECTION_CODES.has(code))
      return { code, ...(typeof port === 'number' ? { port } : {}) };
    const inMessage = /\b(E[A-Z_]+)\b.*?:(\d+)\b/.exec(e.message);
    if (inMessage?.[1] && CONNECTION_CODES.has(inMessage[1]))
      return { code: inMessage[1], port: Number(inMessage[2]) };
    e = e.cause;
  }
  return undefined;
};

export const isConnectionError = (error: unknown): boolean =>
  socketFailure(error) !== undefined ||
  (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'RequestTimeout'));

/**
 * Turn "connection refused" into what to do about it, naming the endpoint: locally, start the
 * runtime or point the CLI at it; on AWS, check the region and the network.
 */
export const unreachable = (
  what: string,
  endpoint: string,
  error: unknown,
  where: 'local' | 'aws',
): UsageError => {
  const failure = socketFailure(error);
  const message = (e: unknown): string => (e instanceof Error ? e.message || e.name : String(e));
  // fetch says only "fetch failed"; why is in its cause (e.g. "bad port").
  const cause = error instanceof Error && error.cause !== undefined ? `: ${message(error.cause)}` : '';
  const detail = failure?.code ?? `${message(error)}${cause}`;
  const advice =
    where === 'local'
      ? 'Is `dynamodb-outbox local` running? If it runs elsewhere, point the CLI at it with DYNAMODB_PORT, ' +
        'EVENTBRIDGE_PORT and SQS_PORT (or the *_ENDPOINT variables); for AWS, pass --stack <name> or --table <name>.'
      : 'Check the region (--region or AWS_REGION), the network and any proxy (HTTPS_PROXY).';
  return new UsageError(`Cannot reach ${what} at ${endpoint} (${detail}). ${advice}`);
};
