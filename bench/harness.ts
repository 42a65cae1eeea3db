import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { type AcceptedEvent, LocalEventBus } from '../packages/dynamodb-outbox/src/local/event-bus';
import { type PollerLogger, StreamPoller } from '../packages/dynamodb-outbox/src/local/stream-poller';
import { lambdaContext } from './lambda-events';
import type { RelaySettings } from './settings';

/** The relay Lambda's handler: the `handler` export of packages/dynamodb-outbox/src/engine/relay-handler.ts. */
export type RelayHandler = (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse>;

/**
 * Wakes whoever waits for a condition whenever something happened that may have made it true
 * (an event accepted, an invocation finished). Waiting is event-driven, never a fixed sleep.
 */
export class Signal {
  private readonly waiters = new Set<() => void>();

  notify(): void {
    for (const check of [...this.waiters]) check();
  }

  until(condition: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const check = (): void => {
        if (!condition()) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${describe()}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }
}

/** A local EventBridge endpoint that remembers when it first accepted each `detail.eventId`. */
export class BusProbe {
  readonly bus: LocalEventBus;
  private readonly firstAccepted = new Map<string, number>();

  constructor(private readonly signal: Signal) {
    this.bus = new LocalEventBus({ port: 0, onAccepted: (accepted) => this.record(accepted) });
  }

  get endpoint(): string {
    return this.bus.endpoint;
  }

  /** Distinct events accepted since the last reset. */
  get distinct(): number {
    return this.firstAccepted.size;
  }

  acceptedAt(eventId: string): number | undefined {
    return this.firstAccepted.get(eventId);
  }

  /** A sample of what the bus received, to measure entry sizes. */
  lastEvent(): AcceptedEvent | undefined {
    return this.bus.events().at(-1);
  }

  reset(): void {
    this.firstAccepted.clear();
    this.bus.clear();
  }

  private record(accepted: AcceptedEvent): void {
    const eventId = accepted.event.detail.eventId;
    if (typeof eventId === 'string' && !this.firstAccepted.has(eventId))
      this.firstAccepted.set(eventId, performance.now());
    this.signal.notify();
  }
}

export interface Invocation {
  readonly records: number;
  readonly ms: number;
  readonly failed: boolean;
}

export interface LogCounts {
  warnings: number;
  errors: number;
  firstMessages: string[];
}

/**
 * The relay as Lambda runs it: the local stream poller with the deployed mapping settings in
 * front of the real handler, each invocation given a Lambda context and timed.
 */
export class RelayConsumer {
  readonly invocations: Invocation[] = [];
  readonly log: LogCounts = { warnings: 0, errors: 0, firstMessages: [] };
  discarded = 0;
  private readonly poller: StreamPoller;
  private running = 0;

  constructor(options: {
    readonly streams: DynamoDBStreamsClient;
    readonly streamArn: string;
    readonly handler: RelayHandler;
    readonly settings: RelaySettings;
    readonly signal: Signal;
    /** Overrides for the alternatives the report prices (no filter, batch size 1). */
    readonly batchSize?: number;
    readonly filterPatterns?: readonly string[];
  }) {
    const { settings, signal } = options;
    const logger: PollerLogger = {
      warn: (message, extra) => this.note('warn', message, extra),
      error: (message, extra) => this.note('error', message, extra),
    };
    this.poller = new StreamPoller({
      client: options.streams,
      streamArn: options.streamArn,
      handler: async (event) => {
        this.running++;
        const started = performance.now();
        let failed = true;
        try {
          const context = lambdaContext('outbox-relay', settings.memoryMb, settings.timeoutSeconds * 1000);
          const result = await options.handler(event, context);
          failed = (result?.batchItemFailures?.length ?? 0) > 0;
          return result;
        } finally {
          this.invocations.push({ records: event.Records.length, ms: performance.now() - started, failed });
          this.running--;
          signal.notify();
        }
      },
      filterPatterns: options.filterPatterns ?? settings.filterPatterns,
      batchSize: options.batchSize ?? settings.batchSize,
      maximumBatchingWindowMs: settings.maximumBatchingWindowSeconds * 1000,
      startingPosition: settings.startingPosition,
      reportBatchItemFailures: settings.reportBatchItemFailures,
      bisectBatchOnFunctionError: settings.bisectBatchOnFunctionError,
      maximumRetryAttempts: settings.maximumRetryAttempts,
      maximumRecordAgeSeconds: settings.maximumRecordAgeSeconds,
      onFailure: (_failure, records) => {
        this.discarded += records.length;
      },
      logger,
    });
  }

  /** No invocation is running. */
  get idle(): boolean {
    return this.running === 0;
  }

  get stats() {
    return this.poller.stats;
  }

  start(): void {
    this.poller.start();
  }

  stop(): Promise<void> {
    return this.poller.stop();
  }

  private note(level: 'warn' | 'error', message: string, extra?: Record<string, unknown>): void {
    if (level === 'warn') this.log.warnings++;
    else this.log.errors++;
    if (this.log.firstMessages.length < 5)
      this.log.firstMessages.push(`${level}: ${message} ${extra ? JSON.stringify(extra) : ''}`.trim());
  }
}
