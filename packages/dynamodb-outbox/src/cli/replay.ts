import { randomUUID } from 'node:crypto';
import {
  CancelReplayCommand,
  DescribeArchiveCommand,
  DescribeReplayCommand,
  type DescribeReplayResponse,
  ListRulesCommand,
  type ReplayState,
  StartReplayCommand,
} from '@aws-sdk/client-eventbridge';
import { type OutboxTarget, UsageError, unreachable } from './target.js';

/** `parseArgs` options of the replay command, merged into the CLI's. */
export const REPLAY_ARGS = {
  from: { type: 'string' },
  to: { type: 'string' },
  rule: { type: 'string' },
  'archive-arn': { type: 'string' },
  'timeout-minutes': { type: 'string' },
} as const;

/** The command's lines of the CLI usage, and its options' lines. */
export const REPLAY_USAGE = `  replay    deliver the archived events of [--from, --to) to the consumers again
            (all rules on the bus, or --rule <name>); consumers skip what they applied`;
export const REPLAY_OPTIONS_USAGE = `  --from, --to <time>       replay: ISO 8601 (2026-11-22T10:00Z), "now", or ago: 30m, 2h, 1d;
                            whole seconds, as events' time: --from rounded down, --to up
  --rule <name>             replay: one rule: the name of a <name>RuleArn stack output (e.g.
                            inventory), a rule name on the bus, or a rule ARN; the same offline
  --archive-arn <arn>       replay: archive to replay from (default: the stack's ArchiveArn output)
  --timeout-minutes <n>     replay: stop waiting for the replay after n minutes (default 60)`;

export interface ReplayOptions {
  readonly from: Date;
  readonly to: Date;
  /** Only this rule: a name or an ARN. @default every rule on the bus */
  readonly rule?: string;
  /** @default `outbox-<rule|all>-<time>-<random>` */
  readonly name?: string;
  /** Stop waiting (the replay goes on). @default 60 minutes */
  readonly timeoutMs?: number;
  /** DescribeReplay interval. @default 5000 */
  readonly pollIntervalMs?: number;
  /** Aborting it cancels the replay (Ctrl-C). */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ReplayProgress) => void;
  readonly now?: () => Date;
}

export interface ReplayProgress {
  readonly state: string;
  readonly eventLastReplayedTime?: string;
}

export interface ReplayReport {
  readonly replayName: string;
  readonly target: 'aws' | 'local';
  readonly from: string;
  readonly to: string;
  /** Rules replayed to: ARNs on AWS, subscription names locally; empty = every rule on the bus. */
  readonly rules: readonly string[];
  /** COMPLETED, FAILED, CANCELLED, or the last state seen when the wait ended. */
  readonly state: string;
  readonly stateReason?: string;
  readonly eventLastReplayedTime?: string;
  /** Locally: events in the range and deliveries started. AWS does not count them. */
  readonly events?: number;
  readonly deliveries?: number;
  /** The wait ended before the replay did: it goes on. */
  readonly timedOut?: boolean;
  readonly notes: readonly string[];
}

const FINAL_STATES: ReadonlySet<string> = new Set<ReplayState>(['COMPLETED', 'FAILED', 'CANCELLED']);
/** "There may be a delay between an event being received on an event bus and the event arriving in the archive" (user guide: 10 minutes). */
const ARCHIVE_DELAY_MS = 10 * 60_000;
const RELATIVE = /^(\d+)\s*(m|min|h|d)$/;
const UNIT_MS: Record<string, number> = { m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--from`/`--to`: ISO 8601, `now`, or a span ago (`30m`, `2h`, `1d`). */
export const parseReplayTime = (flag: string, raw: string, now: Date): Date => {
  if (raw === 'now') return now;
  const relative = RELATIVE.exec(raw.replace(/^-/, ''));
  if (relative) return new Date(now.getTime() - Number(relative[1]) * (UNIT_MS[relative[2] ?? 'm'] ?? 0));
  const time = /^\d{4}-\d{2}-\d{2}/.test(raw) ? new Date(raw) : new Date(Number.NaN);
  if (Number.isNaN(time.getTime()))
    throw new UsageError(`--${flag} takes an ISO 8601 time, "now" or a span ago (30m, 2h, 1d), got "${raw}"`);
  return time;
};

/** The command-line values of `replay`, checked. */
export const replayOptions = (
  values: { from?: string; to?: string; rule?: string; 'timeout-minutes'?: string },
  now: Date = new Date(),
): ReplayOptions => {
  if (values.from === undefined || values.to === undefined)
    throw new UsageError('replay needs --from <time> and --to <time>');
  // An event's `time` has whole seconds: an event of 19:43:58.6 carries 19:43:58, before a --from of
  // 19:43:58.195, and would be left out. Whole seconds then: --from rounded down, --to up (which
  // keeps the events of its last second, as the bound given did, and says so in the report).
  const from = new Date(Math.floor(parseReplayTime('from', values.from, now).getTime() / 1000) * 1000);
  const to = new Date(Math.ceil(parseReplayTime('to', values.to, now).getTime() / 1000) * 1000);
  if (from.getTime() >= to.getTime())
    throw new UsageError(`--from (${from.toISOString()}) must be before --to (${to.toISOString()})`);
  let timeoutMs: number | undefined;
  if (values['timeout-minutes'] !== undefined) {
    const minutes = Number(values['timeout-minutes']);
    if (!(minutes > 0))
      throw new UsageError(`--timeout-minutes must be a positive number, got "${values['timeout-minutes']}"`);
    timeoutMs = minutes * 60_000;
  }
  return {
    from,
    to,
    ...(values.rule === undefined ? {} : { rule: values.rule }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  };
};

/** A replay name EventBridge takes: unique, at most 64 of `[.\-_A-Za-z0-9]`. */
export const replayName = (rule: string | undefined, now: Date): string => {
  const scope = (rule?.split('/').pop() ?? 'all').replace(/[^.\-_A-Za-z0-9]/g, '-').slice(0, 32);
  const stamp = now.toISOString().replace(/[-:]/g, '').slice(0, 15);
  return `outbox-${scope}-${stamp}-${randomUUID().slice(0, 6)}`;
};

/** Replay on AWS (StartReplay from the archive) or locally (the bus's `POST /replay`). */
export const replay = async (target: OutboxTarget, options: ReplayOptions): Promise<ReplayReport> => {
  const source = target.replay;
  if (source === undefined) throw new UsageError(`No replay source known for ${target.description}`);
  if (source.kind === 'local') return replayLocally(source, options);
  try {
    return await replayOnAws(target, source, options);
  } catch (error) {
    throw explainReplayError(error, source.archiveArn);
  }
};

/** EventBridge's replay errors, in the operator's terms; the rest goes to the CLI's own mapping. */
const explainReplayError = (error: unknown, archiveArn: string | undefined): unknown => {
  if (!(error instanceof Error)) return error;
  switch (error.name) {
    case 'ResourceNotFoundException':
      return new UsageError(`Not found (archive ${archiveArn}): ${error.message}`);
    case 'LimitExceededException':
      return new UsageError(
        `EventBridge runs at most 10 replays at once per account and region: ${error.message}`,
      );
    case 'ResourceAlreadyExistsException':
      return new UsageError(
        `A replay of that name exists already; run again for a new name: ${error.message}`,
      );
    case 'InvalidEventPatternException':
    case 'ValidationException':
      return new UsageError(`EventBridge refused the replay: ${error.message}`);
    default:
      return error;
  }
};

/**
 * The local bus names a rule by its logical id (the last part of its local ARN): `--rule inventory`
 * finds it through the `InventoryRuleArn` output, as on AWS.
 */
const localRuleName = (rules: Readonly<Record<string, string>>, rule: string): string => {
  const arn = Object.entries(rules).find(([name]) => name.toLowerCase() === rule.toLowerCase())?.[1] ?? rule;
  return arn.includes(':rule/') ? arn.slice(arn.indexOf(':rule/') + ':rule/'.length) : arn;
};

const replayLocally = async (
  source: Extract<NonNullable<OutboxTarget['replay']>, { kind: 'local' }>,
  options: ReplayOptions,
): Promise<ReplayReport> => {
  const { endpoint } = source;
  const rule = options.rule === undefined ? undefined : localRuleName(source.rules, options.rule);
  const name = options.name ?? replayName(options.rule, (options.now ?? (() => new Date()))());
  let response: Response;
  try {
    response = await fetch(`${endpoint}/replay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        from: options.from.toISOString(),
        to: options.to.toISOString(),
        name,
        ...(rule === undefined ? {} : { rule }),
      }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    throw unreachable('the local EventBridge', endpoint, error, 'local');
  }
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (response.status === 404)
    throw new UsageError(
      `The local EventBridge at ${endpoint} has no POST /replay: restart \`dynamodb-outbox local\` with this version`,
    );
  if (!response.ok)
    throw new UsageError(`Local replay refused: ${String(body.message ?? `HTTP ${response.status}`)}`);
  return {
    replayName: String(body.replayName),
    target: 'local',
    from: options.from.toISOString(),
    to: options.to.toISOString(),
    rules: Array.isArray(body.rules) ? body.rules.map(String) : [],
    state: 'COMPLETED',
    events: Number(body.events),
    deliveries: Number(body.deliveries),
    notes: ['Local deliveries run asynchronously, with the retries of live ones.'],
  };
};

const replayOnAws = async (
  target: OutboxTarget,
  source: Extract<NonNullable<OutboxTarget['replay']>, { kind: 'aws' }>,
  options: ReplayOptions,
): Promise<ReplayReport> => {
  const eventBridge = target.eventBridge;
  const now = (options.now ?? (() => new Date()))();
  if (source.archiveArn === undefined)
    throw new UsageError(
      'No archive to replay from: pass --archive-arn, or --stack with an ArchiveArn output',
    );
  const archiveName = source.archiveArn.split('/').pop() ?? source.archiveArn;
  const archive = await eventBridge.send(new DescribeArchiveCommand({ ArchiveName: archiveName }));
  const eventBusArn = source.eventBusArn ?? archive.EventSourceArn;
  if (eventBusArn === undefined) throw new UsageError(`Archive ${archiveName} names no source bus`);
  if (archive.State !== undefined && archive.State !== 'ENABLED')
    throw new UsageError(`Archive ${archiveName} is ${archive.State}, not ENABLED`);

  const notes = archiveNotes(options, now, archive.CreationTime, archive.RetentionDays);
  const ruleArn =
    options.rule === undefined ? undefined : await findRule(target, source, eventBusArn, options.rule);
  const name = options.name ?? replayName(options.rule, now);
  await eventBridge.send(
    new StartReplayCommand({
      ReplayName: name,
      Description: `dynamodb-outbox replay${options.rule ? ` --rule ${options.rule}` : ''}`,
      EventSourceArn: source.archiveArn,
      EventStartTime: options.from,
      EventEndTime: options.to,
      Destination: { Arn: eventBusArn, ...(ruleArn ? { FilterArns: [ruleArn] } : {}) },
    }),
  );

  const report = (
    replay: DescribeReplayResponse | undefined,
    extra: Partial<ReplayReport> = {},
  ): ReplayReport => ({
    replayName: name,
    target: 'aws',
    from: options.from.toISOString(),
    to: options.to.toISOString(),
    rules: ruleArn ? [ruleArn] : [],
    state: replay?.State ?? 'STARTING',
    ...(replay?.StateReason ? { stateReason: replay.StateReason } : {}),
    ...(replay?.EventLastReplayedTime
      ? { eventLastReplayedTime: replay.EventLastReplayedTime.toISOString() }
      : {}),
    notes,
    ...extra,
  });

  const deadline = Date.now() + (options.timeoutMs ?? 60 * 60_000);
  const interval = options.pollIntervalMs ?? 5000;
  let last: DescribeReplayResponse | undefined;
  let lastSeen = '';
  for (;;) {
    if (options.signal?.aborted) return cancel(target, name, report);
    last = await eventBridge.send(new DescribeReplayCommand({ ReplayName: name }));
    const seen = `${last.State}|${last.EventLastReplayedTime?.toISOString() ?? ''}`;
    if (seen !== lastSeen)
      options.onProgress?.({
        state: last.State ?? 'UNKNOWN',
        ...(last.EventLastReplayedTime
          ? { eventLastReplayedTime: last.EventLastReplayedTime.toISOString() }
          : {}),
      });
    lastSeen = seen;
    if (FINAL_STATES.has(last.State ?? '')) return report(last);
    if (Date.now() + interval > deadline)
      return report(last, {
        timedOut: true,
        notes: [
          ...notes,
          `Stopped waiting; the replay goes on. Follow it with \`aws events describe-replay --replay-name ${name}\`, stop it with \`aws events cancel-replay --replay-name ${name}\`.`,
        ],
      });
    await pause(interval, options.signal);
  }
};

/** Ctrl-C: cancel the replay, then report the state it is in. */
const cancel = async (
  target: OutboxTarget,
  name: string,
  report: (replay: DescribeReplayResponse | undefined) => ReplayReport,
): Promise<ReplayReport> => {
  try {
    await target.eventBridge.send(new CancelReplayCommand({ ReplayName: name }));
  } catch (error) {
    // Finished in the meantime: nothing to cancel; report what it ended as.
    if (!(error instanceof Error) || error.name !== 'IllegalStatusException') throw error;
  }
  return report(await target.eventBridge.send(new DescribeReplayCommand({ ReplayName: name })));
};

/** What the archive cannot hold of the requested range. */
const archiveNotes = (
  options: ReplayOptions,
  now: Date,
  creationTime: Date | undefined,
  retentionDays: number | undefined,
): string[] => {
  const notes: string[] = [];
  if (creationTime && options.from < creationTime)
    notes.push(`The archive was created at ${creationTime.toISOString()}: it holds no earlier events.`);
  if (retentionDays && options.from.getTime() < now.getTime() - retentionDays * 86_400_000)
    notes.push(`The archive keeps events ${retentionDays} days: older ones are gone.`);
  if (options.to.getTime() > now.getTime() - ARCHIVE_DELAY_MS)
    notes.push(
      'Events can reach the archive late (AWS recommends replaying 10 minutes after): the last 10 minutes of the range may be incomplete.',
    );
  return notes;
};

/** `--rule`: an ARN as it is, a `<name>RuleArn` output, else a rule of that name on the bus. */
const findRule = async (
  target: OutboxTarget,
  source: Extract<NonNullable<OutboxTarget['replay']>, { kind: 'aws' }>,
  eventBusArn: string,
  rule: string,
): Promise<string> => {
  if (rule.startsWith('arn:')) return rule;
  const fromOutputs = Object.entries(source.rules).find(
    ([name]) => name.toLowerCase() === rule.toLowerCase(),
  );
  if (fromOutputs) return fromOutputs[1];
  const names: string[] = [];
  let token: string | undefined;
  do {
    const page = await target.eventBridge.send(
      new ListRulesCommand({ EventBusName: eventBusArn, ...(token ? { NextToken: token } : {}) }),
    );
    for (const r of page.Rules ?? []) {
      if (r.Name === rule && r.Arn) return r.Arn;
      if (r.Name) names.push(r.Name);
    }
    token = page.NextToken;
  } while (token);
  const known = [...Object.keys(source.rules), ...names];
  throw new UsageError(`No rule "${rule}" on ${eventBusArn}; known: ${known.join(', ') || '(none)'}`);
};

const pause = (ms: number, signal: AbortSignal | undefined): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

export const formatReplay = (report: ReplayReport): string => {
  const lines = [
    `Replay ${report.replayName} (${report.target === 'aws' ? 'archive' : 'local event bus'})`,
    `  events of             ${report.from} to ${report.to} (end excluded)`,
    `  rules                 ${report.rules.length === 0 ? 'every rule on the bus' : report.rules.join(', ')}`,
    `  state                 ${report.state}${report.stateReason ? `: ${report.stateReason}` : ''}`,
  ];
  if (report.eventLastReplayedTime) lines.push(`  last replayed event   ${report.eventLastReplayedTime}`);
  if (report.events !== undefined) lines.push(`  events replayed       ${report.events}`);
  if (report.deliveries !== undefined) lines.push(`  deliveries            ${report.deliveries}`);
  for (const note of report.notes) lines.push('', `Note: ${note}`);
  return lines.join('\n');
};

/** Exit status: 0 once the replay completed, 1 if it failed, was cancelled or is still running. */
export const replayExitCode = (report: ReplayReport): number => (report.state === 'COMPLETED' ? 0 : 1);

/** The CLI's `replay`: Ctrl-C cancels the replay, progress goes to stderr. */
export const runReplay = async (
  target: OutboxTarget,
  options: ReplayOptions,
  json: boolean,
): Promise<number> => {
  const controller = new AbortController();
  const onInterrupt = () => {
    console.error('outbox: cancelling the replay (Ctrl-C again to leave it running)');
    process.once('SIGINT', () => process.exit(130));
    controller.abort();
  };
  process.once('SIGINT', onInterrupt);
  try {
    const report = await replay(target, {
      ...options,
      signal: controller.signal,
      onProgress: ({ state, eventLastReplayedTime }) =>
        console.error(
          `  ${state.padEnd(11)}${eventLastReplayedTime ? `replayed up to ${eventLastReplayedTime}` : ''}`,
        ),
    });
    console.log(json ? JSON.stringify(report, null, 2) : formatReplay(report));
    return replayExitCode(report);
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
};
