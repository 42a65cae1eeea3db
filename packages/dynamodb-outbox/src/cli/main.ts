import { inspect, parseArgs } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { diagnoseLocal, isConnectionFailure } from './local-health.js';
import { formatRedrive, redrive } from './redrive.js';
import {
  directoryFailureStore,
  type FailureStore,
  formatFailureRedrive,
  redriveFailures,
} from './redrive-failures.js';
import {
  REPLAY_ARGS,
  REPLAY_OPTIONS_USAGE,
  REPLAY_USAGE,
  type ReplayOptions,
  replayOptions,
  runReplay,
} from './replay.js';
import { parseS3Location, s3FailureStore } from './s3-failure-store.js';
import { DEFAULT_STATUS_MAX_ITEMS, formatStatus, outboxStatus } from './status.js';
import { LOCAL_OUTPUTS_FILE, type OutboxTarget, resolveTarget, UsageError, unreachable } from './target.js';

const USAGE = `Usage: dynamodb-outbox <command> [options]

Commands:
  local     run the CDK app of this directory offline (its cdk.json), as its template
            declares it: see \`dynamodb-outbox local --help\`
  invoke    invoke a function of the running local runtime: see \`dynamodb-outbox invoke --help\`
  status    pending outbox events (those no receipt lists, by the table's key or
            its time index), the oldest one's age, and the depth of every
            poison, failure and dead-letter queue
  redrive   republish the events on the poison queue (after fixing their cause)
            and delete each message once EventBridge has accepted its event
${REPLAY_USAGE}
  capacity  the settings for a peak rate of events, and every limit on the path with its
            ceiling: see \`dynamodb-outbox capacity --help\`

Where status, redrive and replay look (default: the local runtime that \`dynamodb-outbox local\`
runs in this directory, and the outbox in the stack outputs it wrote to ${LOCAL_OUTPUTS_FILE}):
  --stack <name>            an AWS stack: table, layout, bus and queues from its outputs
  --table <name>            an AWS table, without a stack (with --local: a local table)
  --local                   the local runtime, even with --table
  --outbox <id>             the outbox, by its construct id, when the stack has several
  --region <region>         AWS region (default: AWS_REGION)
  --bus <name>              event bus to republish to (default: the outbox's stack output)
  --source <source>         event source to republish with (default: the outbox's stack output)
  --poison-queue-url <url>  poison queue to redrive (default: the outbox's <id>PoisonQueueUrl output)
  --queue <name=url>        a queue to include in status (repeatable)
  --retention-days <n>      TTL of republished items (default: the outbox's output, else 7)
  --layout <layout>         how the table keys its outbox items: time-ordered-table, or the
                            JSON of an outbox's <id>Layout output (default: that output, else
                            time-ordered-table, TransactionalOutbox's default)

Options:
  --max <n>                 redrive: messages to read at most (default 1000); status (either
                            layout; a same table through its time index): outbox items to read
                            at most, from the reconciler's watermark or the start of the
                            retention (default ${DEFAULT_STATUS_MAX_ITEMS})
  --dry-run                 redrive: show what would be republished and what is still
                            poison (the publisher's own checks), change nothing
  --from-failures <where>   redrive: republish the stream batches the relay mapping gave up on,
                            from its on-failure destination instead of the poison queue: a
                            directory offline, or s3://<bucket> on AWS (s3:// alone with --stack:
                            its <id>FailureBucketName output); objects moved under redriven/
                            once republished
${REPLAY_OPTIONS_USAGE}
  --json                    machine-readable output
  -h, --help                this text
  --version                 the version of dynamodb-outbox

Local endpoints can be moved with DYNAMODB_ENDPOINT, EVENTBRIDGE_ENDPOINT and SQS_ENDPOINT.
Exit status: 0 done, 1 redrive left messages on the queue or a replay did not complete,
2 usage or connection problem (status: anything it could not read, the table or a queue).`;

/** Where the CLI writes: the console, or a test's buffers. */
export interface CliOutput {
  log(text: string): void;
  error(text: string): void;
}

type Env = Readonly<Record<string, string | undefined>>;

const main = async (argv: readonly string[], out: CliOutput, env: Env): Promise<number> => {
  const { positionals, values } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      local: { type: 'boolean', default: false },
      stack: { type: 'string' },
      outbox: { type: 'string' },
      table: { type: 'string' },
      region: { type: 'string' },
      bus: { type: 'string' },
      source: { type: 'string' },
      'poison-queue-url': { type: 'string' },
      queue: { type: 'string', multiple: true },
      'retention-days': { type: 'string' },
      layout: { type: 'string' },
      max: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      'from-failures': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      ...REPLAY_ARGS,
    },
  });
  const [command, ...extra] = positionals;
  if (values.help) {
    out.log(USAGE);
    return 0;
  }
  if (command === undefined) {
    out.error(USAGE);
    return 2;
  }
  if (extra.length > 0) throw new UsageError(`Unexpected arguments: ${extra.join(' ')}`);
  if (command !== 'status' && command !== 'redrive' && command !== 'replay')
    throw new UsageError(
      `Unknown command "${command}": use local, invoke, status, redrive or replay (see --help)`,
    );

  const max = values.max === undefined ? undefined : Number(values.max);
  if (max !== undefined && (!Number.isInteger(max) || max < 1))
    throw new UsageError(`--max must be a positive integer, got "${values.max}"`);

  const replay = command === 'replay' ? replayOptions(values) : undefined;

  const target = await resolveTarget(
    {
      ...(values.local ? { local: true } : {}),
      ...(values.stack ? { stack: values.stack } : {}),
      ...(values.outbox ? { outbox: values.outbox } : {}),
      ...(values.table ? { table: values.table } : {}),
      ...(values.region ? { region: values.region } : {}),
      ...(values.bus ? { bus: values.bus } : {}),
      ...(values.source ? { source: values.source } : {}),
      ...(values['poison-queue-url'] ? { poisonQueueUrl: values['poison-queue-url'] } : {}),
      ...(values.queue ? { queues: values.queue } : {}),
      ...(values['retention-days'] ? { retentionDays: values['retention-days'] } : {}),
      ...(values.layout ? { layout: values.layout } : {}),
      ...(values['archive-arn'] ? { archiveArn: values['archive-arn'] } : {}),
    },
    env,
  );
  try {
    const fromFailures = values['from-failures'];
    if (fromFailures !== undefined) {
      if (command !== 'redrive') throw new UsageError('--from-failures applies to redrive only');
      const bucket = parseS3Location(fromFailures);
      let s3: S3Client | undefined;
      let store: FailureStore;
      if (bucket === undefined) store = directoryFailureStore(fromFailures);
      else {
        if (target.localEndpoints !== undefined)
          throw new UsageError(
            'The local runtime has no S3: pass the failure directory the `dynamodb-outbox local` banner names',
          );
        const name = bucket || target.failureBucketName;
        if (!name)
          throw new UsageError(
            'Name the failure bucket (s3://<bucket>), or pass --stack whose outbox outputs its <id>FailureBucketName',
          );
        s3 = new S3Client(target.region ? { region: target.region } : {});
        store = s3FailureStore(s3, name);
      }
      const report = await redriveFailures(target, store, {
        dryRun: values['dry-run'],
        ...(max === undefined ? {} : { max }),
      })
        .catch(async (error: unknown) => {
          throw await explain(error, target);
        })
        .finally(() => s3?.destroy());
      out.log(
        values.json ? JSON.stringify(report, null, 2) : formatFailureRedrive(report, values['dry-run']),
      );
      return report.left > 0 && !values['dry-run'] ? 1 : 0;
    }
    if (command === 'replay')
      return await runReplay(target, replay as ReplayOptions, values.json).catch(async (error: unknown) => {
        throw await explain(error, target);
      });
    return await run(target, command, { max, dryRun: values['dry-run'], json: values.json }, out);
  } finally {
    target.destroy();
  }
};

const run = async (
  target: OutboxTarget,
  command: 'status' | 'redrive',
  options: { max: number | undefined; dryRun: boolean; json: boolean },
  out: CliOutput,
): Promise<number> => {
  try {
    if (command === 'status') {
      const status = await outboxStatus(target, options.max === undefined ? {} : { maxItems: options.max });
      out.log(options.json ? JSON.stringify(status, null, 2) : formatStatus(status));
      // One rule for status: anything it cannot read exits 2, a queue as the table does.
      const unread = status.queues.filter((q) => q.error !== undefined);
      if (unread.length === 0) return 0;
      out.error(
        `outbox: status is incomplete: could not read ${unread
          .map((q) => `queue ${q.name} (${q.url}): ${q.error}`)
          .join('; ')}`,
      );
      return 2;
    }
    if (target.poisonQueueUrl === undefined)
      throw new UsageError(
        'No poison queue found: pass --poison-queue-url (or --stack whose outbox outputs its <id>PoisonQueueUrl)',
      );
    const report = await redrive(target, {
      dryRun: options.dryRun,
      ...(options.max === undefined ? {} : { max: options.max }),
    });
    out.log(options.json ? JSON.stringify(report, null, 2) : formatRedrive(report, options.dryRun));
    return report.left > 0 && !options.dryRun ? 1 : 0;
  } catch (error) {
    throw await explain(error, target);
  }
};

/** The SDK's errors, in terms of what the operator should check. */
const explain = async (error: unknown, target: OutboxTarget): Promise<unknown> => {
  if (!(error instanceof Error) || error instanceof UsageError) return error;
  if (isConnectionFailure(error))
    return target.localEndpoints
      ? diagnoseLocal(target.localEndpoints, error)
      : unreachable('AWS', target.description, error, 'aws');
  if (error.name === 'ResourceNotFoundException')
    return new UsageError(
      `Table ${target.tableName} not found in ${target.description}. ` +
        'Pass the outbox table with --table, or --stack to read it from the stack outputs.',
    );
  // DynamoDB answers a Query on a missing index with a ValidationException naming the index.
  if (
    error.name === 'ValidationException' &&
    /specified index/.test(error.message) &&
    target.layout.kind === 'same-table'
  )
    return new UsageError(
      `Table ${target.tableName} has no ${target.layout.timeIndex.indexName} index, so its pending events ` +
        'cannot be listed: is it the outbox table? Pass the table the stack (or `dynamodb-outbox local`) created ' +
        'with --table, or --stack to read it from the stack outputs; a time-ordered outbox table ' +
        '(no index) needs --layout time-ordered-table.',
    );
  // ...and keys that are not the table's (a Get, or a Query of a time-ordered table's minute) likewise;
  // DynamoDB Local words a Get's as "One of the required keys was not given a value".
  if (
    error.name === 'ValidationException' &&
    /key schema element|key element does not match the schema|required keys was not given a value/.test(
      error.message,
    )
  )
    return new UsageError(
      `Table ${target.tableName} is not keyed as its outbox layout says ` +
        `(${target.layout.kind}: ${target.layout.partitionKey}/${target.layout.sortKey}): is it the outbox table? ` +
        'Pass the table the stack (or `dynamodb-outbox local`) created with --table, or --stack to read it and its ' +
        'layout from the stack outputs; --layout names the layout of a table without a stack.',
    );
  if (error.name === 'QueueDoesNotExist' || error.name === 'AWS.SimpleQueueService.NonExistentQueue')
    return new UsageError(
      `Queue ${target.poisonQueueUrl ?? ''} does not exist in ${target.description}: check --poison-queue-url`,
    );
  if (error.name === 'CredentialsProviderError' || error.name === 'ExpiredTokenException')
    return new UsageError(`No usable AWS credentials: ${error.message}`);
  if (error.message === 'Region is missing')
    return new UsageError('No AWS region: pass --region, or set AWS_REGION or a region in your AWS profile');
  // Any other answer of an AWS service (access denied, throttled...): its code and message say it.
  if ('$metadata' in error) return new UsageError(`${error.name}: ${error.message}`);
  return error;
};

/** parseArgs' own errors (unknown option, missing value) are usage errors too. */
const isArgumentError = (error: unknown): error is Error =>
  error instanceof TypeError && String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');

/**
 * The one line printed for a failure. Usage and operating problems get their message alone; only
 * an error nobody anticipated (a bug) keeps its stack, for the report.
 */
export const failureMessage = (error: unknown): string => {
  if (error instanceof UsageError) return `outbox: ${error.message}`;
  if (isArgumentError(error)) {
    // Node's text for an unknown option is a paragraph about positionals; the option is what matters.
    const unknown = /^Unknown option '([^']+)'/.exec(error.message)?.[1];
    return `outbox: ${unknown ? `Unknown option ${unknown}` : error.message} (see --help)`;
  }
  return `outbox: failed: ${inspect(error)}`;
};

/**
 * `dynamodb-outbox status|redrive|replay <argv>`: runs the command and returns the exit status
 * (0 done, 1 redrive left messages on the queue, 2 usage or connection problem).
 */
export const runOutbox = async (
  argv: readonly string[],
  out: CliOutput = { log: console.log, error: console.error },
  env: Env = process.env,
): Promise<number> => {
  try {
    return await main(argv, out, env);
  } catch (error) {
    out.error(failureMessage(error));
    return 2;
  }
};
