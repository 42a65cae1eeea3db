import type { LogSink } from './publisher.js';

/** What one relayed batch says about publishing: the events EventBridge did not take, to be retried. */
export interface PublishAttempt {
  /** Each retryable failure's error code and its event's `occurredAt`. */
  readonly failed: ReadonlyArray<{ readonly errorCode: string; readonly occurredAt?: string }>;
  /** Events EventBridge accepted. */
  readonly published: number;
}

interface Failing {
  readonly since: number;
  attempts: number;
  /** What the last line said: the error codes and the order of magnitude of the failed events. */
  said: { readonly codes: string; readonly magnitude: number };
}

const magnitude = (count: number): number => Math.floor(Math.log10(count));

/**
 * Publishing failures, said once rather than per event per retry. During an outage Lambda (and the
 * offline poller) retries a stuck batch every few seconds at most, and every entry of every retry
 * fails again: one line per failed entry was some 10 lines a second per batch. Instead: one WARN
 * when publishing starts failing (how many events, which error codes, the age of the oldest
 * event), another only when that changes (other codes, or ten times more or fewer events), and one
 * when a batch publishes without a retryable failure again ("recovered after …"), at the same level
 * so that whoever saw the first line sees the last.
 *
 * State lives in the relay's execution environment, which Lambda gives one batch at a time: one
 * report per environment, that is per shard while it polls one.
 */
export class PublishFailureLog {
  private failing: Failing | undefined;

  constructor(private readonly log: Pick<LogSink, 'warn'>) {}

  record(attempt: PublishAttempt, now: Date): void {
    const at = now.getTime();
    if (attempt.failed.length === 0) {
      // A batch with nothing to publish says nothing about EventBridge.
      if (this.failing === undefined || attempt.published === 0) return;
      const seconds = Math.round((at - this.failing.since) / 1000);
      this.log.warn(`Publishing recovered after ${seconds} s`, {
        failingForSeconds: seconds,
        attempts: this.failing.attempts,
      });
      this.failing = undefined;
      return;
    }
    const errorCodes = [...new Set(attempt.failed.map((f) => f.errorCode))].sort();
    const occurred = attempt.failed.flatMap((f) => (f.occurredAt ? [Date.parse(f.occurredAt)] : []));
    const details = {
      failedEvents: attempt.failed.length,
      errorCodes,
      ...(occurred.length > 0
        ? { oldestEventAgeSeconds: Math.round((at - Math.min(...occurred)) / 1000) }
        : {}),
    };
    const said = { codes: errorCodes.join(','), magnitude: magnitude(attempt.failed.length) };
    if (this.failing === undefined) {
      this.failing = { since: at, attempts: 1, said };
      this.log.warn('Publishing failed; the batch is retried until EventBridge accepts it', details);
      return;
    }
    this.failing.attempts++;
    if (said.codes === this.failing.said.codes && said.magnitude === this.failing.said.magnitude) return;
    this.failing.said = said;
    this.log.warn('Publishing still failing', {
      ...details,
      failingForSeconds: Math.round((at - this.failing.since) / 1000),
      attempts: this.failing.attempts,
    });
  }
}
