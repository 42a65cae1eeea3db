import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricUnit as MetricUnitValue } from '@aws-lambda-powertools/metrics/types';
import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import { mapWithConcurrency } from '../runtime/concurrency.js';
import { putEventsEntrySize } from '../runtime/entry-size.js';
import { type PutEventsLimits, resolveLimits } from '../runtime/limits.js';
import { MetricName } from '../runtime/metric-names.js';
import type { OutboxRecord } from '../runtime/outbox-item.js';
import { logger as sharedLogger, metrics as sharedMetrics } from '../runtime/powertools.js';

/** The part of Powertools Metrics the relay uses; metric names only from MetricName. */
export interface MetricsSink {
  addMetric(name: MetricName, unit: MetricUnitValue, value: number): unknown;
}

/** The part of the Powertools Logger the relay uses: a message plus structured attributes. */
export interface LogSink {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

/** What the publisher needs of an outbox record: the envelope and the trace it was written in. */
export type Publishable = Pick<OutboxRecord, 'envelope' | 'traceHeader'>;

export interface PublishFailure {
  /** Position of the record in the input. */
  readonly index: number;
  readonly errorCode: string;
  readonly errorMessage: string;
}

/** Every input position lands in exactly one list, each list in input order. */
export interface PublishResult {
  /** Positions of the records EventBridge accepted. */
  readonly published: number[];
  /** Worth another attempt later: throttling, internal errors, failed calls. */
  readonly retryable: PublishFailure[];
  /** Can never succeed as they are: oversize entry, invalid detail type, detail EventBridge rejects. */
  readonly poison: PublishFailure[];
}

export interface PublisherRetryPolicy {
  /** In-process retries of retryable entries before they are handed back. */
  readonly attempts: number;
  /** Full-jitter exponential backoff: the n-th retry waits up to baseDelayMs × 2^(n−1). */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export interface OutboxPublisherDeps {
  readonly eventBridge: EventBridgeClient;
  readonly eventBusName: string;
  readonly source: string;
  readonly limits?: Partial<PutEventsLimits>;
  /** PutEvents calls in flight at once. @default 10 */
  readonly maxConcurrentCalls?: number;
  /** @default { attempts: 4, baseDelayMs: 50, maxDelayMs: 1000 } */
  readonly retry?: Partial<PublisherRetryPolicy>;
  readonly metrics?: MetricsSink;
  readonly logger?: Pick<LogSink, 'warn'>;
  readonly now?: () => Date;
}

/** Our own codes, for what is caught before sending or is missing from a response. */
export const PublishErrorCode = {
  InvalidDetailType: 'InvalidDetailType',
  EntryTooLarge: 'EntryTooLarge',
  MalformedDetail: 'MalformedDetail',
  MissingResultEntry: 'MissingResultEntry',
} as const;

/**
 * Per-entry PutEvents error codes, from the PutEventsResultEntry reference
 * (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html).
 * AWS documents InternalFailure and ThrottlingException as retryable and the rest as not. Of
 * the non-retryable ones, only those about the event itself make it poison. AccessDenied,
 * NotAuthorizedFor* and InvalidAccountId are about the relay's configuration (IAM, bus policy,
 * bus ARN): every event would fail alike until an operator fixes it, so they are retried,
 * not shunted one by one into the dead-letter queue. Unknown codes are retried too: the safe
 * side for a code AWS may add later.
 */
const POISON_ENTRY_CODES: ReadonlySet<string> = new Set([
  'InvalidArgument',
  'MalformedDetail',
  'RedactionFailure',
]);

export const isPoisonErrorCode = (code: string): boolean => POISON_ENTRY_CODES.has(code);

const DEFAULT_RETRY: PublisherRetryPolicy = { attempts: 4, baseDelayMs: 50, maxDelayMs: 1000 };
const INT64_LIMIT = 2 ** 63;

/**
 * Why `value` would not survive as EventBridge detail, or undefined when it would: values JSON
 * cannot carry (BigInt, Set, Map, binary, undefined in arrays), numbers EventBridge rejects
 * (non-finite, integers outside int64) and nesting deeper than EventBridge processes.
 */
export const detailProblem = (value: unknown, maxDepth: number, depth = 0): string | undefined => {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      if (!Number.isFinite(value)) return 'a non-finite number';
      if (Number.isInteger(value) && Math.abs(value) >= INT64_LIMIT)
        return 'an integer outside the int64 range';
      return undefined;
    case 'object': {
      if (value === null) return undefined;
      if (depth + 1 > maxDepth) return `JSON nested deeper than ${maxDepth} levels`;
      if (Array.isArray(value)) {
        for (const element of value) {
          if (element === undefined) return 'an undefined array element';
          const problem = detailProblem(element, maxDepth, depth + 1);
          if (problem) return problem;
        }
        return undefined;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null)
        return `a ${(value as object).constructor?.name ?? 'non-plain'} value`;
      for (const element of Object.values(value)) {
        if (element === undefined) continue;
        const problem = detailProblem(element, maxDepth, depth + 1);
        if (problem) return problem;
      }
      return undefined;
    }
    default:
      return `a ${typeof value} value`;
  }
};

interface Prepared {
  readonly index: number;
  readonly entry: PutEventsRequestEntry;
  readonly size: number;
}

type Outcome =
  | { kind: 'published' }
  | { kind: 'retryable' | 'poison'; errorCode: string; errorMessage: string };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const characters = (text: string): number => [...text].length;

const errorName = (error: unknown): string =>
  error instanceof Error ? error.name : typeof error === 'string' ? error : 'UnknownError';
const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Publishes outbox items to an EventBridge bus: one entry per item, packed greedily and in
 * order into as few PutEvents calls as the limits allow, the calls sent concurrently, each
 * entry's result mapped back to its item. Shared by the stream relay and the reconciler.
 */
export class OutboxPublisher {
  private readonly eventBridge: EventBridgeClient;
  private readonly eventBusName: string;
  private readonly source: string;
  private readonly limits: PutEventsLimits;
  private readonly maxConcurrentCalls: number;
  private readonly retry: PublisherRetryPolicy;
  private readonly metrics: MetricsSink;
  private readonly logger: Pick<LogSink, 'warn'>;
  private readonly now: () => Date;

  constructor(deps: OutboxPublisherDeps) {
    this.limits = resolveLimits(deps.limits);
    const { maxSourceLength, maxEventBusNameLength } = this.limits;
    if (deps.source.length === 0 || characters(deps.source) > maxSourceLength)
      throw new Error(`Event source must be 1 to ${maxSourceLength} characters`);
    if (deps.source.startsWith('aws.')) throw new Error('Event source must not start with "aws." (reserved)');
    if (deps.eventBusName.length === 0 || deps.eventBusName.length > maxEventBusNameLength)
      throw new Error(`Event bus name must be 1 to ${maxEventBusNameLength} characters`);
    this.maxConcurrentCalls = deps.maxConcurrentCalls ?? 10;
    if (!Number.isInteger(this.maxConcurrentCalls) || this.maxConcurrentCalls < 1)
      throw new Error('maxConcurrentCalls must be a positive integer');
    this.retry = { ...DEFAULT_RETRY, ...deps.retry };
    if (!Number.isInteger(this.retry.attempts) || this.retry.attempts < 0)
      throw new Error('retry.attempts must be a non-negative integer');
    this.eventBridge = deps.eventBridge;
    this.eventBusName = deps.eventBusName;
    this.source = deps.source;
    this.metrics = deps.metrics ?? sharedMetrics;
    this.logger = deps.logger ?? sharedLogger;
    this.now = deps.now ?? (() => new Date());
  }

  async publish(items: readonly Publishable[]): Promise<PublishResult> {
    const outcomes = new Array<Outcome | undefined>(items.length);
    let pending: Prepared[] = [];
    items.forEach((item, index) => {
      const prepared = this.prepare(item, index);
      if ('errorCode' in prepared) outcomes[index] = { kind: 'poison', ...prepared };
      else pending.push(prepared);
    });

    let failedAttempts = 0;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await sleep(this.backoff(attempt));
      const calls = this.pack(pending);
      const results = await mapWithConcurrency(calls, this.maxConcurrentCalls, (call) => this.send(call));
      const retry: Prepared[] = [];
      calls.forEach((call, c) => {
        call.forEach((prepared, e) => {
          const outcome = (results[c] as Outcome[])[e] as Outcome;
          outcomes[prepared.index] = outcome;
          if (outcome.kind === 'retryable') retry.push(prepared);
        });
      });
      failedAttempts += retry.length;
      if (attempt >= this.retry.attempts) break;
      pending = retry;
    }

    const result: PublishResult = { published: [], retryable: [], poison: [] };
    const publishedAt = this.now().getTime();
    items.forEach((item, index) => {
      const outcome = outcomes[index] as Outcome;
      if (outcome.kind === 'published') {
        result.published.push(index);
        const lag = Math.max(0, publishedAt - Date.parse(item.envelope.occurredAt));
        this.metrics.addMetric(MetricName.RelayLag, MetricUnit.Milliseconds, lag);
      } else {
        const failed = { index, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage };
        (outcome.kind === 'poison' ? result.poison : result.retryable).push(failed);
      }
    });
    if (result.published.length > 0)
      this.metrics.addMetric(MetricName.EventsPublished, MetricUnit.Count, result.published.length);
    if (failedAttempts > 0)
      this.metrics.addMetric(MetricName.PublishFailures, MetricUnit.Count, failedAttempts);
    if (result.poison.length > 0)
      this.metrics.addMetric(MetricName.PoisonEvents, MetricUnit.Count, result.poison.length);
    return result;
  }

  /**
   * Why `item` can never be published as it is, by the checks `publish` runs before sending
   * (detail type, detail, entry size), or undefined when it passes them. What EventBridge itself
   * rejects on the call (InvalidArgument, MalformedDetail) is only known by sending.
   */
  check(item: Publishable): Omit<PublishFailure, 'index'> | undefined {
    const prepared = this.prepare(item, 0);
    return 'errorCode' in prepared ? prepared : undefined;
  }

  /** The entry for `item`, or why EventBridge would reject or drop it. */
  private prepare(item: Publishable, index: number): Prepared | { errorCode: string; errorMessage: string } {
    const { maxDetailTypeLength, maxDetailDepth, maxEntryBytes, maxTraceHeaderLength } = this.limits;
    const envelope = item.envelope;
    const detailTypeLength = characters(envelope.eventType);
    if (detailTypeLength === 0 || detailTypeLength > maxDetailTypeLength)
      return {
        errorCode: PublishErrorCode.InvalidDetailType,
        errorMessage: `eventType has ${detailTypeLength} characters; DetailType allows 1 to ${maxDetailTypeLength}`,
      };
    const problem = detailProblem(envelope, maxDetailDepth);
    if (problem)
      return { errorCode: PublishErrorCode.MalformedDetail, errorMessage: `Detail contains ${problem}` };
    const entry: PutEventsRequestEntry = {
      Source: this.source,
      DetailType: envelope.eventType,
      Detail: JSON.stringify(envelope),
      EventBusName: this.eventBusName,
    };
    if (item.traceHeader !== undefined && item.traceHeader !== '') {
      // A trace header is observability, not data: an unusable one costs the trace link, not the event.
      if (item.traceHeader.length <= maxTraceHeaderLength) entry.TraceHeader = item.traceHeader;
      else this.logger.warn('Trace header too long; publishing without it', { eventId: envelope.eventId });
    }
    const size = putEventsEntrySize(entry);
    if (size > maxEntryBytes)
      return {
        errorCode: PublishErrorCode.EntryTooLarge,
        errorMessage: `Entry is ${size} bytes; PutEvents allows ${maxEntryBytes}`,
      };
    return { index, entry, size };
  }

  /** Greedy, order-preserving packing into calls within the entry-count and byte limits. */
  private pack(prepared: readonly Prepared[]): Prepared[][] {
    const calls: Prepared[][] = [];
    let current: Prepared[] = [];
    let bytes = 0;
    for (const p of prepared) {
      if (
        current.length > 0 &&
        (current.length >= this.limits.maxEntriesPerCall || bytes + p.size > this.limits.maxCallBytes)
      ) {
        calls.push(current);
        current = [];
        bytes = 0;
      }
      current.push(p);
      bytes += p.size;
    }
    if (current.length > 0) calls.push(current);
    return calls;
  }

  /** One PutEvents call; never throws: a failed call makes each of its entries retryable. */
  private async send(call: readonly Prepared[]): Promise<Outcome[]> {
    let entries: PutEventsResultEntry[];
    try {
      const response = await this.eventBridge.send(
        new PutEventsCommand({ Entries: call.map((p) => p.entry) }),
      );
      entries = response.Entries ?? [];
    } catch (error) {
      const failure: Outcome = {
        kind: 'retryable',
        errorCode: errorName(error),
        errorMessage: errorText(error),
      };
      return call.map(() => failure);
    }
    // Result entries are positional: "the index of the response element is the same as the
    // index in the request array" (PutEvents API reference).
    return call.map((_, i): Outcome => {
      const result = entries[i];
      if (result?.ErrorCode) {
        const kind = isPoisonErrorCode(result.ErrorCode) ? 'poison' : 'retryable';
        return { kind, errorCode: result.ErrorCode, errorMessage: result.ErrorMessage ?? '' };
      }
      if (result?.EventId) return { kind: 'published' };
      return {
        kind: 'retryable',
        errorCode: PublishErrorCode.MissingResultEntry,
        errorMessage: 'PutEvents returned no result for this entry',
      };
    });
  }

  private backoff(attempt: number): number {
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    return Math.floor(Math.random() * ceiling);
  }
}
