import { parseArgs } from 'node:util';
import { formatRedrive, redrive } from './redrive';
import {
  REPLAY_ARGS,
  REPLAY_OPTIONS_USAGE,
  REPLAY_USAGE,
  type ReplayOptions,
  replayOptions,
  runReplay,
} from './replay';
import { formatStatus, outboxStatus } from './status';
import { explainError, type OutboxTarget, resolveTarget, UsageError } from './target';

const USAGE = `Usage: npm run outbox -- <command> [options]

Commands:
  status    pending outbox events, the oldest one's age, and the depth of every
            poison, failure and dead-letter queue
  redrive   republish the events on the poison queue (after fixing their cause)
            and delete each message once EventBridge has accepted its event
${REPLAY_USAGE}

Where (default: the local runtime of \`npm start\`, on its default ports):
  --stack <name>            an AWS stack: table, bus and queues from its outputs
  --table <name>            an AWS table, without a stack (with --local: a local table)
  --local                   the local runtime, even with --table
  --region <region>         AWS region (default: AWS_REGION)
  --bus <name>              event bus to republish to (default: stack output, else "orders" locally)
  --source <source>         event source to republish with (default: stack output, else "orders")
  --poison-queue-url <url>  poison queue to redrive (default: stack output / local "outbox-poison")
  --queue <name=url>        a queue to include in status (repeatable)
  --retention-days <n>      TTL of republished items (default: stack output, else 7)

Options:
  --max <n>                 redrive: messages to read at most (default 1000)
  --dry-run                 redrive: show what would be republished and what is still
                            poison (the publisher's own checks), change nothing
${REPLAY_OPTIONS_USAGE}
  --json                    machine-readable output
  -h, --help                this text

Local endpoints can be moved with DYNAMODB_ENDPOINT, EVENTBRIDGE_ENDPOINT and SQS_ENDPOINT.
Exit status: 0 done, 1 redrive left messages on the queue or a replay did not complete,
2 usage or connection problem.`;

const main = async (argv: readonly string[]): Promise<number> => {
  const { positionals, values } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      local: { type: 'boolean', default: false },
      stack: { type: 'string' },
      table: { type: 'string' },
      region: { type: 'string' },
      bus: { type: 'string' },
      source: { type: 'string' },
      'poison-queue-url': { type: 'string' },
      queue: { type: 'string', multiple: true },
      'retention-days': { type: 'string' },
      max: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      ...REPLAY_ARGS,
    },
  });
  const [command, ...extra] = positionals;
  if (values.help || command === undefined) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (extra.length > 0) throw new UsageError(`Unexpected arguments: ${extra.join(' ')}`);
  if (command !== 'status' && command !== 'redrive' && command !== 'replay')
    throw new UsageError(`Unknown command "${command}"`);

  const max = values.max === undefined ? undefined : Number(values.max);
  if (max !== undefined && (!Number.isInteger(max) || max < 1))
    throw new UsageError(`--max must be a positive integer, got "${values.max}"`);

  const replay = command === 'replay' ? replayOptions(values) : undefined;

  const target = await resolveTarget({
    ...(values.local ? { local: true } : {}),
    ...(values.stack ? { stack: values.stack } : {}),
    ...(values.table ? { table: values.table } : {}),
    ...(values.region ? { region: values.region } : {}),
    ...(values.bus ? { bus: values.bus } : {}),
    ...(values.source ? { source: values.source } : {}),
    ...(values['poison-queue-url'] ? { poisonQueueUrl: values['poison-queue-url'] } : {}),
    ...(values.queue ? { queues: values.queue } : {}),
    ...(values['retention-days'] ? { retentionDays: values['retention-days'] } : {}),
    ...(values['archive-arn'] ? { archiveArn: values['archive-arn'] } : {}),
  });
  try {
    if (command === 'replay')
      return await runReplay(target, replay as ReplayOptions, values.json).catch((error: unknown) => {
        throw explainError(error, target);
      });
    return await run(target, command, { max, dryRun: values['dry-run'], json: values.json });
  } finally {
    target.destroy();
  }
};

const run = async (
  target: OutboxTarget,
  command: 'status' | 'redrive',
  options: { max: number | undefined; dryRun: boolean; json: boolean },
): Promise<number> => {
  try {
    if (command === 'status') {
      const status = await outboxStatus(target);
      console.log(options.json ? JSON.stringify(status, null, 2) : formatStatus(status));
      return 0;
    }
    if (target.poisonQueueUrl === undefined)
      throw new UsageError(
        'No poison queue found: pass --poison-queue-url (or --stack with a PoisonQueueUrl output)',
      );
    const report = await redrive(target, {
      dryRun: options.dryRun,
      ...(options.max === undefined ? {} : { max: options.max }),
    });
    console.log(options.json ? JSON.stringify(report, null, 2) : formatRedrive(report, options.dryRun));
    return report.left > 0 && !options.dryRun ? 1 : 0;
  } catch (error) {
    throw explainError(error, target);
  }
};

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error)) {
      console.error(`outbox: ${error.message}`);
    } else {
      console.error('outbox: failed:', error);
    }
    process.exitCode = 2;
  },
);
