import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { putEventsEntrySize } from '../runtime/entry-size.js';
import { DEFAULT_PUT_EVENTS_LIMITS, type PutEventsLimits } from '../runtime/limits.js';
import type { Subscription } from '../runtime/subscription.js';
import {
  type FaultSettings,
  FaultSettingsError,
  MAX_SEED,
  NO_FAULTS,
  parseFaultChanges,
} from './event-bus/fault-settings.js';
import { compileEventPattern, type EventMatcher } from './event-pattern.js';
import { closeServer, configuredPort, listen, RequestBodyTooLargeError, readBody, sendJson } from './http.js';
import { DEFAULT_PORTS } from './ports.js';

/*
 * A local EventBridge endpoint. It speaks the PutEvents wire protocol (AWS JSON 1.1: POST / with
 * `X-Amz-Target: AWSEvents.PutEvents`), so the real @aws-sdk/client-eventbridge, with its
 * retries and error parsing, and the AWS CLI (`--endpoint-url`) work against it unchanged.
 *
 * Mirrored from the PutEvents API reference and the EventBridge user guide:
 * - 1 to 10 entries per call, else the whole call fails with ValidationException; the sum of
 *   entry sizes (computed as EventBridge does, lambdas/outbox/entry-size.ts) over the limit fails
 *   the whole call with ValidationException "Total size of the entries in the request is over
 *   the limit." (the 1 MiB limit is shared with the relay: lambdas/outbox/limits.ts).
 * - Per-entry errors with FailedEntryCount and results in request order: a missing Source,
 *   DetailType or Detail is InvalidArgument; Detail that is not a JSON object is MalformedDetail;
 *   an `aws.` source is NotAuthorizedForSourceException; a DetailType over 128 characters is
 *   InvalidArgument; an unknown bus is ResourceNotFoundException (only when `eventBusName` is set).
 * - Every accepted entry gets a new UUID event id, and becomes the event targets receive
 *   (version, id, detail-type, source, account, time, region, resources, detail).
 * - Errors use the AWS JSON shape: `{"__type": "...", "message": "..."}` plus the
 *   `x-amzn-ErrorType` header; an unknown X-Amz-Target is UnknownOperationException.
 * - Rules: each subscription (the rules the template declares) is a
 *   rule with one target; a matching event is delivered asynchronously and retried with
 *   exponential backoff and jitter up to the retry policy's attempts and maximum event age, then
 *   sent to the target's dead-letter queue with EventBridge's DLQ attributes.
 *
 * - Replay (`replay()`, `POST /replay`), the offline stand-in for StartReplay from an archive: the
 *   accepted events whose `time` is in [from, to) go again to the matching rules (only the named
 *   one with `rule`, as `FilterArns` does), each carrying `replay-name` in the envelope as
 *   replayed events do; they are not added to the history again, as archives skip replayed
 *   events. A replay name is used once. The history is the archive: `maxStoredEvents`, no
 *   retention, no 1-minute replay intervals, no delay before an event can be replayed.
 *
 * Offline additions: `GET /events` (accepted events), `DELETE /events` (clear events, counts and
 * dead letters), `GET /stats`, `GET /dead-letters`, `GET|PUT /faults`, `POST /replay`; fault
 * injection (a share of entries failing with ThrottlingException or InternalFailure, throttling
 * bursts that reject whole calls, HTTP 500 InternalException, duplicate and shuffled target
 * deliveries).
 *
 * Not mirrored: SigV4 verification, other EventBridge APIs (archives and replays have no wire
 * API here), input transformers, per-account quotas other than the injected throttling. AWS's exact messages for
 * the DetailType length and unknown bus cases are not documented; the codes above are the
 * documented ones closest to them.
 */

export {
  type FaultSettings,
  FaultSettingsError,
  MAX_DELIVERY_COPIES,
  MAX_SHUFFLE_DELIVERY_MS,
  MAX_THROTTLE_BURST_CALLS,
  NO_FAULTS,
  type RetryableEntryError,
} from './event-bus/fault-settings.js';

export const DEFAULT_EVENTBRIDGE_PORT = DEFAULT_PORTS.eventBridge;
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
/** Requests larger than this are refused before parsing; the API itself caps a call at 1 MB. */
const MAX_REQUEST_BYTES = 2 * 1024 * 1024;

/** An event as EventBridge hands it to a target. */
export interface BusEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: Record<string, unknown>;
  /** Set on a replayed event only: the replay's name. */
  readonly 'replay-name'?: string;
}

/** What the bus keeps for each accepted entry. */
export interface AcceptedEvent {
  readonly event: BusEvent;
  readonly eventBusName: string;
  readonly receivedAt: string;
  readonly traceHeader?: string;
}

export type EventTarget = (event: BusEvent) => Promise<unknown>;

/** Replay the accepted events whose `time` is in [from, to) (`POST /replay` takes the same as JSON). */
export interface ReplayRequest {
  /** Inclusive: an ISO 8601 time or a Date. */
  readonly from: string | Date;
  /** Exclusive. */
  readonly to: string | Date;
  /** Only this subscription's rule (by name), as StartReplay's `FilterArns`. @default every matching rule */
  readonly rule?: string;
  /** Unique per bus, 1 to 64 of `[.\-_A-Za-z0-9]`. @default `replay-<time>-<random>` */
  readonly name?: string;
}

export interface ReplayResult {
  readonly replayName: string;
  readonly from: string;
  readonly to: string;
  /** Rules replayed to. */
  readonly rules: readonly string[];
  /** Events in the time range. */
  readonly events: number;
  /** Target deliveries started (an event matching two rules counts twice). */
  readonly deliveries: number;
}

/** Why a replay request cannot run: `POST /replay` answers it with 400. */
export class ReplayRequestError extends Error {
  override readonly name = 'ReplayRequestError';
}

const REPLAY_NAME = /^[.\-_A-Za-z0-9]{1,64}$/;

/**
 * Whether a replay to `rule` reaches the subscription `name`. The runtime names a rule's target by
 * the rule when it has one target, `<rule>/<target id>` when it has several: a rule reaches every
 * target of it, as a rule ARN in StartReplay's FilterArns does, and `<rule>/<target id>` reaches
 * that target, the only target of a rule too.
 */
const replaysTo = (name: string, rule: string): boolean =>
  name === rule || name.startsWith(`${rule}/`) || (!name.includes('/') && rule.startsWith(`${name}/`));

/** A delivery that ran out of retries, with the attributes EventBridge puts on its DLQ message. */
export interface DeadLetter {
  readonly subscription: string;
  readonly event: BusEvent;
  readonly attributes: {
    readonly RULE_ARN: string;
    readonly TARGET_ARN: string;
    readonly ERROR_CODE: string;
    readonly ERROR_MESSAGE: string;
    readonly EXHAUSTED_RETRY_CONDITION: 'MaximumRetryAttemptsExhausted' | 'MaximumEventAgeExceeded';
    readonly RETRY_ATTEMPTS: number;
  };
}

export interface BusStats {
  /** PutEvents calls received, including rejected ones. */
  calls: number;
  entriesReceived: number;
  eventsAccepted: number;
  /** Failed entries by error code, injected and real. */
  failedEntries: Record<string, number>;
  injectedEntryFailures: number;
  throttledCalls: number;
  serverErrorCalls: number;
  /** Calls rejected as a whole by validation (ValidationException, SerializationException...). */
  rejectedCalls: number;
  /** Accepted events whose `detail.eventId` had been accepted before. */
  duplicateDetailEventIds: number;
  deliveries: number;
  duplicateDeliveries: number;
  targetFailures: number;
  deadLettered: number;
  replays: number;
  /** Events replayed, once per replay that included them. */
  eventsReplayed: number;
}

const emptyStats = (): BusStats => ({
  calls: 0,
  entriesReceived: 0,
  eventsAccepted: 0,
  failedEntries: {},
  injectedEntryFailures: 0,
  throttledCalls: 0,
  serverErrorCalls: 0,
  rejectedCalls: 0,
  duplicateDetailEventIds: 0,
  deliveries: 0,
  duplicateDeliveries: 0,
  targetFailures: 0,
  deadLettered: 0,
  replays: 0,
  eventsReplayed: 0,
});

export interface LocalEventBusOptions {
  /** 0 picks a free port. @default EVENTBRIDGE_PORT, else 4010 */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '000000000000' */
  readonly account?: string;
  /** Only this bus exists (by name or ARN); unset accepts every bus name. @default undefined */
  readonly eventBusName?: string;
  /** @default DEFAULT_PUT_EVENTS_LIMITS (10 entries, 1 MiB per call, DetailType 128 characters) */
  readonly limits?: Partial<
    Pick<PutEventsLimits, 'maxEntriesPerCall' | 'maxCallBytes' | 'maxDetailTypeLength'>
  >;
  /** @default NO_FAULTS */
  readonly faults?: Partial<FaultSettings>;
  /** Accepted events kept for `GET /events`; the oldest are dropped beyond it. @default 10000 */
  readonly maxStoredEvents?: number;
  /** The `seed` fault setting, at start (`faults.seed` wins). @default drawn at random, and shown in `GET /stats` */
  readonly seed?: number;
  /** First target retry delay; doubled per attempt with full jitter. @default 100 */
  readonly retryBaseDelayMs?: number;
  /** @default 10000 */
  readonly retryMaxDelayMs?: number;
  /** Called for each accepted event (e.g. a console line). */
  readonly onAccepted?: (accepted: AcceptedEvent) => void;
  /** Called for each dead letter, after it is recorded. */
  readonly onDeadLetter?: (deadLetter: DeadLetter) => void;
}

interface Route {
  readonly subscription: Subscription;
  readonly matches: EventMatcher;
  readonly target: EventTarget;
}

class AwsError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/** mulberry32: small, fast and good enough to make fault runs reproducible. */
const seededRandom = (seed: number): (() => number) => {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const replayTime = (name: string, value: string | Date): Date => {
  const time = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(time.getTime())) throw new ReplayRequestError(`"${name}" is not a time: ${String(value)}`);
  return time;
};

/** EventBridge writes event times to the second. */
const eventTime = (date: Date): string => `${date.toISOString().slice(0, 19)}Z`;

const busNameOf = (nameOrArn: string): string =>
  nameOrArn.startsWith('arn:') ? (nameOrArn.split(':event-bus/')[1] ?? nameOrArn) : nameOrArn;

type EntryResult = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

export class LocalEventBus {
  readonly stats: BusStats = emptyStats();
  readonly deadLetters: DeadLetter[] = [];
  private readonly accepted: AcceptedEvent[] = [];
  private readonly seenDetailEventIds = new Map<string, number>();
  private readonly routes: Route[] = [];
  private readonly replayNames = new Set<string>();
  private readonly options: LocalEventBusOptions;
  private readonly limits: Pick<
    PutEventsLimits,
    'maxEntriesPerCall' | 'maxCallBytes' | 'maxDetailTypeLength'
  >;
  private faultSettings: FaultSettings;
  private random: () => number;
  private throttledCallsLeft = 0;
  private server: Server | undefined;
  private boundPort = 0;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private stopped = false;

  constructor(options: LocalEventBusOptions = {}) {
    this.options = options;
    this.limits = {
      maxEntriesPerCall: options.limits?.maxEntriesPerCall ?? DEFAULT_PUT_EVENTS_LIMITS.maxEntriesPerCall,
      maxCallBytes: options.limits?.maxCallBytes ?? DEFAULT_PUT_EVENTS_LIMITS.maxCallBytes,
      maxDetailTypeLength:
        options.limits?.maxDetailTypeLength ?? DEFAULT_PUT_EVENTS_LIMITS.maxDetailTypeLength,
    };
    // Always seeded, a drawn seed too: a failing run can be run again with the seed it printed.
    this.faultSettings = {
      ...NO_FAULTS,
      seed: options.seed ?? Math.floor(Math.random() * (MAX_SEED + 1)),
      ...parseFaultChanges(options.faults ?? {}),
    };
    this.random = seededRandom(this.faultSettings.seed);
  }

  /** http://host:port, for `new EventBridgeClient({ endpoint })` and `--endpoint-url`. */
  get endpoint(): string {
    return `http://${this.options.host ?? '127.0.0.1'}:${this.boundPort}`;
  }

  get port(): number {
    return this.boundPort;
  }

  get faults(): FaultSettings {
    return this.faultSettings;
  }

  /**
   * Change fault injection while running (also `PUT /faults`). Unset fields keep their value; an
   * unknown or out-of-range setting throws FaultSettingsError and changes nothing.
   */
  setFaults(faults: Partial<FaultSettings>): FaultSettings {
    // A burst under way runs its course: bursts are bounded by throttleBurstCalls.
    const changes = parseFaultChanges(faults);
    this.faultSettings = { ...this.faultSettings, ...changes };
    if (changes.seed !== undefined) this.random = seededRandom(changes.seed);
    return this.faultSettings;
  }

  /** Add a rule: events matching the subscription's pattern go to `target` with its retry policy. */
  subscribe(subscription: Subscription, target: EventTarget): void {
    this.routes.push({ subscription, matches: compileEventPattern(subscription.eventPattern), target });
  }

  /** Accepted events, oldest first (at most `maxStoredEvents`). */
  events(): readonly AcceptedEvent[] {
    return this.accepted;
  }

  /** How many times each `detail.eventId` was accepted. */
  detailEventIdCounts(): ReadonlyMap<string, number> {
    return this.seenDetailEventIds;
  }

  /**
   * Deliver the accepted events whose `time` is in [from, to) again, to every matching rule or to
   * `rule` only, each marked with `replay-name`. Deliveries run as live ones do (retries, dead
   * letters); `idle()` resolves when they are done.
   */
  replay(request: ReplayRequest): ReplayResult {
    const from = replayTime('from', request.from);
    const to = replayTime('to', request.to);
    if (from >= to) throw new ReplayRequestError('"from" must be before "to"');
    const replayName = request.name ?? `replay-${Date.now()}-${randomUUID().slice(0, 8)}`;
    if (!REPLAY_NAME.test(replayName))
      throw new ReplayRequestError(
        `Replay name "${replayName}" must be 1 to 64 characters of letters, digits, ".", "-" and "_"`,
      );
    if (this.replayNames.has(replayName))
      throw new ReplayRequestError(`Replay ${replayName} already exists: a replay name is used once`);
    const { rule } = request;
    const routes =
      rule === undefined ? this.routes : this.routes.filter((r) => replaysTo(r.subscription.name, rule));
    if (routes.length === 0)
      throw new ReplayRequestError(
        request.rule === undefined
          ? 'No rules on this bus to replay to'
          : `No rule "${request.rule}" on this bus; rules: ${this.routes.map((r) => r.subscription.name).join(', ') || '(none)'}`,
      );
    this.replayNames.add(replayName);
    // Event times are whole seconds (eventTime): compare as instants, not as strings.
    const events = this.accepted.filter(({ event }) => {
      const time = Date.parse(event.time);
      return time >= from.getTime() && time < to.getTime();
    });
    let deliveries = 0;
    for (const { event } of events)
      deliveries += this.dispatch({ ...event, 'replay-name': replayName }, routes);
    this.stats.replays++;
    this.stats.eventsReplayed += events.length;
    return {
      replayName,
      from: from.toISOString(),
      to: to.toISOString(),
      rules: routes.map((r) => r.subscription.name),
      events: events.length,
      deliveries,
    };
  }

  /** Forget events, counts and dead letters. */
  clear(): void {
    this.accepted.length = 0;
    this.deadLetters.length = 0;
    this.seenDetailEventIds.clear();
    Object.assign(this.stats, emptyStats());
  }

  /** Resolves when no target delivery is pending (retries included). */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async start(): Promise<void> {
    const port = configuredPort(
      'EventBridge',
      this.options.port,
      'EVENTBRIDGE_PORT',
      DEFAULT_EVENTBRIDGE_PORT,
    );
    const server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        this.sendError(response, new AwsError(500, 'InternalException', String(error)));
      });
    });
    this.boundPort = await listen(server, port, this.options.host ?? '127.0.0.1');
    this.server = server;
    this.stopped = false;
  }

  /** Close the endpoint and abandon pending deliveries. */
  async stop(): Promise<void> {
    this.stopped = true;
    // Pending retries end now: their deliveries give up instead of keeping the process alive.
    for (const [timer, resolve] of this.timers) {
      clearTimeout(timer);
      resolve();
    }
    this.timers.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await closeServer(server);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (request.method === 'POST' && url.pathname === '/') return this.handleApi(request, response);
    const route = `${request.method} ${url.pathname.replace(/\/+$/, '') || '/'}`;
    switch (route) {
      case 'GET /events':
        return sendJson(response, 200, this.accepted);
      case 'DELETE /events':
        this.clear();
        response.writeHead(204).end();
        return;
      case 'GET /stats':
        return sendJson(response, 200, { ...this.stats, seed: this.faultSettings.seed });
      case 'GET /dead-letters':
        return sendJson(response, 200, this.deadLetters);
      case 'POST /replay': {
        try {
          const body = JSON.parse((await readRequestBody(request)).toString('utf8')) as unknown;
          if (!isPlainObject(body))
            throw new ReplayRequestError('Expected a JSON object {from, to, rule?, name?}');
          const { from, to, rule, name } = body;
          if (typeof from !== 'string' || typeof to !== 'string')
            throw new ReplayRequestError('"from" and "to" must be ISO 8601 times');
          if (
            (rule !== undefined && typeof rule !== 'string') ||
            (name !== undefined && typeof name !== 'string')
          )
            throw new ReplayRequestError('"rule" and "name" must be strings');
          return sendJson(
            response,
            200,
            this.replay({
              from,
              to,
              ...(rule === undefined ? {} : { rule }),
              ...(name === undefined ? {} : { name }),
            }),
          );
        } catch (error) {
          if (
            !(
              error instanceof ReplayRequestError ||
              error instanceof SyntaxError ||
              error instanceof AwsError
            )
          )
            throw error;
          return sendJson(response, 400, { message: error.message });
        }
      }
      case 'GET /faults':
        return sendJson(response, 200, this.faultSettings);
      case 'PUT /faults': {
        let changes: unknown;
        try {
          changes = JSON.parse((await readRequestBody(request)).toString('utf8'));
        } catch (error) {
          const message =
            error instanceof SyntaxError
              ? 'The body must be a JSON object of fault settings'
              : (error as Error).message;
          return sendJson(response, 400, { message });
        }
        try {
          return sendJson(response, 200, this.setFaults(changes as Partial<FaultSettings>));
        } catch (error) {
          if (!(error instanceof FaultSettingsError)) throw error;
          return sendJson(response, 400, {
            message: error.message,
            ...(error.field === undefined ? {} : { field: error.field }),
          });
        }
      }
      default:
        return sendJson(response, 404, {
          message:
            'Not found. Use POST / (PutEvents), GET|DELETE /events, GET /stats, GET /dead-letters, GET|PUT /faults, POST /replay',
        });
    }
  }

  private async handleApi(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      const target = request.headers['x-amz-target'];
      if (target !== 'AWSEvents.PutEvents') {
        const operation = typeof target === 'string' ? target : '(no X-Amz-Target)';
        throw new AwsError(400, 'UnknownOperationException', `Operation ${operation} is not supported.`);
      }
      const body = await readRequestBody(request);
      this.stats.calls++;
      this.injectCallFaults();
      let input: unknown;
      try {
        input = JSON.parse(body.toString('utf8'));
      } catch {
        throw new AwsError(
          400,
          'SerializationException',
          'Start of structure or map found where not expected.',
        );
      }
      sendJson(response, 200, this.putEvents(input), { 'Content-Type': JSON_CONTENT_TYPE });
    } catch (error) {
      if (error instanceof AwsError) {
        if (error.type === 'ValidationException' || error.type === 'SerializationException')
          this.stats.rejectedCalls++;
        return this.sendError(response, error);
      }
      throw error;
    }
  }

  private injectCallFaults(): void {
    const faults = this.faultSettings;
    if (this.throttledCallsLeft === 0 && faults.throttleRate > 0 && this.random() < faults.throttleRate)
      this.throttledCallsLeft = faults.throttleBurstCalls;
    if (this.throttledCallsLeft > 0) {
      this.throttledCallsLeft--;
      this.stats.throttledCalls++;
      throw new AwsError(400, 'ThrottlingException', 'Rate exceeded');
    }
    if (faults.serverErrorRate > 0 && this.random() < faults.serverErrorRate) {
      this.stats.serverErrorCalls++;
      throw new AwsError(500, 'InternalException', 'An internal error occurred (injected).');
    }
  }

  private putEvents(input: unknown): { FailedEntryCount: number; Entries: EntryResult[] } {
    const entries = isPlainObject(input) ? input.Entries : undefined;
    if (!Array.isArray(entries))
      throw new AwsError(
        400,
        'ValidationException',
        "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null",
      );
    if (entries.length < 1 || entries.length > this.limits.maxEntriesPerCall) {
      const bound =
        entries.length < 1
          ? 'greater than or equal to 1'
          : `less than or equal to ${this.limits.maxEntriesPerCall}`;
      throw new AwsError(
        400,
        'ValidationException',
        `1 validation error detected: Value '[${entries.length} entries]' at 'entries' failed to satisfy constraint: Member must have length ${bound}`,
      );
    }
    const totalBytes = entries.reduce<number>(
      (sum, entry) => sum + (isPlainObject(entry) ? entrySize(entry) : 0),
      0,
    );
    if (totalBytes > this.limits.maxCallBytes)
      throw new AwsError(
        400,
        'ValidationException',
        'Total size of the entries in the request is over the limit.',
      );

    this.stats.entriesReceived += entries.length;
    const results = entries.map((entry) => this.putEntry(entry));
    const failed = results.filter((r) => 'ErrorCode' in r);
    for (const f of failed)
      this.stats.failedEntries[f.ErrorCode] = (this.stats.failedEntries[f.ErrorCode] ?? 0) + 1;
    return { FailedEntryCount: failed.length, Entries: results };
  }

  private putEntry(raw: unknown): EntryResult {
    const entry = isPlainObject(raw) ? raw : {};
    const invalid = (field: string, reason: string): EntryResult => ({
      ErrorCode: 'InvalidArgument',
      ErrorMessage: `Parameter ${field} is not valid. Reason: ${reason}`,
    });
    const { Source, DetailType, Detail, Resources, EventBusName, Time, TraceHeader } = entry;
    if (typeof Source !== 'string' || Source === '')
      return invalid('Source', 'Source is a required argument.');
    if (typeof DetailType !== 'string' || DetailType === '')
      return invalid('DetailType', 'DetailType is a required argument.');
    if (typeof Detail !== 'string' || Detail === '')
      return invalid('Detail', 'Detail is a required argument.');
    if ([...DetailType].length > this.limits.maxDetailTypeLength)
      return invalid(
        'DetailType',
        `DetailType is longer than ${this.limits.maxDetailTypeLength} characters.`,
      );
    if (Source.startsWith('aws.'))
      return {
        ErrorCode: 'NotAuthorizedForSourceException',
        ErrorMessage: `Not authorized for the source ${Source}.`,
      };
    let detail: unknown;
    try {
      detail = JSON.parse(Detail);
    } catch {
      detail = undefined;
    }
    if (!isPlainObject(detail)) return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    const busName =
      typeof EventBusName === 'string' && EventBusName !== '' ? busNameOf(EventBusName) : 'default';
    // Every account has the default bus, beside the stack's own.
    if (
      this.options.eventBusName !== undefined &&
      busName !== 'default' &&
      busName !== busNameOf(this.options.eventBusName)
    )
      return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${busName} does not exist.` };

    const faults = this.faultSettings;
    if (faults.entryFailureRate > 0 && this.random() < faults.entryFailureRate) {
      this.stats.injectedEntryFailures++;
      const code =
        faults.entryFailureCodes[Math.floor(this.random() * faults.entryFailureCodes.length)] ??
        'InternalFailure';
      return {
        ErrorCode: code,
        ErrorMessage:
          code === 'ThrottlingException'
            ? 'The request was denied due to request throttling (injected).'
            : 'The request processing has failed because of an unknown error (injected).',
      };
    }

    const time =
      typeof Time === 'number'
        ? new Date(Time * 1000)
        : typeof Time === 'string'
          ? new Date(Time)
          : new Date();
    const event: BusEvent = {
      version: '0',
      id: randomUUID(),
      'detail-type': DetailType,
      source: Source,
      account: this.options.account ?? '000000000000',
      time: eventTime(Number.isNaN(time.getTime()) ? new Date() : time),
      region: this.options.region ?? 'us-east-1',
      resources: Array.isArray(Resources) ? Resources.filter((r): r is string => typeof r === 'string') : [],
      detail,
    };
    const accepted: AcceptedEvent = {
      event,
      eventBusName: busName,
      receivedAt: new Date().toISOString(),
      ...(typeof TraceHeader === 'string' ? { traceHeader: TraceHeader } : {}),
    };
    this.accept(accepted);
    return { EventId: event.id };
  }

  private accept(accepted: AcceptedEvent): void {
    this.accepted.push(accepted);
    if (this.accepted.length > (this.options.maxStoredEvents ?? 10_000)) this.accepted.shift();
    this.stats.eventsAccepted++;
    const detailEventId = accepted.event.detail.eventId;
    if (typeof detailEventId === 'string') {
      const seen = this.seenDetailEventIds.get(detailEventId) ?? 0;
      if (seen > 0) this.stats.duplicateDetailEventIds++;
      this.seenDetailEventIds.set(detailEventId, seen + 1);
    }
    try {
      this.options.onAccepted?.(accepted);
    } catch {
      // An observer must never fail a PutEvents call.
    }
    this.dispatch(accepted.event, this.routes);
  }

  /** Start delivering `event` to each of `routes` it matches; returns the deliveries started. */
  private dispatch(event: BusEvent, routes: readonly Route[]): number {
    let started = 0;
    for (const route of routes) {
      if (!route.matches(event)) continue;
      const faults = this.faultSettings;
      let copies = 1;
      if (faults.duplicateDeliveryRate > 0 && this.random() < faults.duplicateDeliveryRate)
        copies = 2 + Math.floor(this.random() * (faults.maxDeliveryCopies - 1));
      this.stats.duplicateDeliveries += copies - 1;
      for (let copy = 0; copy < copies; copy++) {
        const delay = faults.shuffleDeliveryMs > 0 ? this.random() * faults.shuffleDeliveryMs : 0;
        this.track(this.deliver(route, event, delay));
        started++;
      }
    }
    return started;
  }

  private track(delivery: Promise<void>): void {
    this.inFlight++;
    delivery.finally(() => {
      this.inFlight--;
      if (this.inFlight === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    });
  }

  private async deliver(route: Route, event: BusEvent, initialDelayMs: number): Promise<void> {
    const { maximumRetryAttempts, maximumEventAgeSeconds } = route.subscription.retry;
    const firstAttemptAt = Date.now();
    if (initialDelayMs > 0) await this.sleep(initialDelayMs);
    for (let retries = 0; !this.stopped; retries++) {
      this.stats.deliveries++;
      try {
        await route.target(event);
        return;
      } catch (error) {
        this.stats.targetFailures++;
        const base = this.options.retryBaseDelayMs ?? 100;
        const delay = this.random() * Math.min(base * 2 ** retries, this.options.retryMaxDelayMs ?? 10_000);
        const tooOld = Date.now() + delay - firstAttemptAt > maximumEventAgeSeconds * 1000;
        if (retries >= maximumRetryAttempts || tooOld) {
          this.deadLetter(route, event, error, retries, tooOld && retries < maximumRetryAttempts);
          return;
        }
        await this.sleep(delay);
      }
    }
  }

  private deadLetter(route: Route, event: BusEvent, error: unknown, retries: number, byAge: boolean): void {
    const name = route.subscription.name;
    const region = this.options.region ?? 'us-east-1';
    const account = this.options.account ?? '000000000000';
    const deadLetter: DeadLetter = {
      subscription: name,
      event,
      attributes: {
        RULE_ARN: `arn:aws:events:${region}:${account}:rule/${name}`,
        TARGET_ARN: `arn:aws:lambda:${region}:${account}:function:${name}`,
        ERROR_CODE: error instanceof Error ? error.name : 'Error',
        ERROR_MESSAGE: error instanceof Error ? error.message : String(error),
        EXHAUSTED_RETRY_CONDITION: byAge ? 'MaximumEventAgeExceeded' : 'MaximumRetryAttemptsExhausted',
        RETRY_ATTEMPTS: retries,
      },
    };
    this.deadLetters.push(deadLetter);
    this.stats.deadLettered++;
    try {
      this.options.onDeadLetter?.(deadLetter);
    } catch {
      // The dead letter is recorded; an observer failing changes nothing.
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.set(timer, resolve);
    });
  }

  private sendError(response: ServerResponse, error: AwsError): void {
    sendJson(
      response,
      error.status,
      { __type: error.type, message: error.message },
      { 'Content-Type': JSON_CONTENT_TYPE, 'x-amzn-ErrorType': error.type },
    );
  }
}

/** Entry size as EventBridge counts it, from the wire form (Time is a number there). */
const entrySize = (entry: Record<string, unknown>): number => {
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
  return putEventsEntrySize({
    ...(entry.Time !== undefined ? { Time: new Date(0) } : {}),
    Source: text(entry.Source),
    DetailType: text(entry.DetailType),
    Detail: text(entry.Detail),
    Resources: Array.isArray(entry.Resources)
      ? entry.Resources.filter((r) => typeof r === 'string')
      : undefined,
  });
};

/** The request body; past MAX_REQUEST_BYTES it is refused as PutEvents refuses an oversized call. */
const readRequestBody = (request: IncomingMessage): Promise<Buffer> =>
  readBody(request, MAX_REQUEST_BYTES).catch((error: unknown) => {
    throw error instanceof RequestBodyTooLargeError
      ? new AwsError(
          400,
          'ValidationException',
          'Total size of the entries in the request is over the limit.',
        )
      : error;
  });

/** Start a local bus; `stop()` it when done. */
export const startLocalEventBus = async (options: LocalEventBusOptions = {}): Promise<LocalEventBus> => {
  const bus = new LocalEventBus(options);
  await bus.start();
  return bus;
};
