import { stat } from 'node:fs/promises';
import type { DynamoDBRecord } from 'aws-lambda';
import { classify, skipAccepted } from '../engine/relay.js';
import { SettledMemory } from '../engine/settled-memory.js';
import {
  FAILURE_OBJECT_PREFIX,
  listDirectoryObjects,
  moveDirectoryObject,
  REDRIVEN_PREFIX,
  readDirectoryObject,
} from '../local/failure-destination.js';
import { describeKey } from '../runtime/layout.js';
import { republishingOf } from './republish.js';
import type { OutboxTarget } from './target.js';
import { UsageError } from './usage-error.js';

/**
 * Where the relay mapping's on-failure objects are: the S3 bucket on AWS, a directory offline.
 * Keys as Lambda writes them (aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/…); a redriven object
 * is moved under `redriven/` with the same key, so that the next run does not see it and the
 * bucket's lifecycle rule expires it.
 */
export interface FailureStore {
  readonly description: string;
  /** Keys of the failure objects not redriven yet. */
  list(): Promise<string[]>;
  read(key: string): Promise<string>;
  markRedriven(key: string): Promise<void>;
}

/**
 * A directory standing for the failure bucket (local/failure-destination.ts writes it). The runtime
 * creates it at start, so a directory that does not exist is a wrong path, never "no failures": said
 * so, rather than reporting nothing to redrive.
 */
export const directoryFailureStore = (dir: string): FailureStore => ({
  description: `directory ${dir}`,
  list: async () => {
    if (!(await stat(dir).catch(() => undefined))?.isDirectory())
      throw new UsageError(
        `No failure directory ${dir}: pass the directory \`dynamodb-outbox local\` names for the failure bucket ` +
          '(its "S3 bucket" line), or s3://<bucket> on AWS',
      );
    return listDirectoryObjects(dir, FAILURE_OBJECT_PREFIX);
  },
  read: (key) => readDirectoryObject(dir, key),
  markRedriven: (key) => moveDirectoryObject(dir, key, `${REDRIVEN_PREFIX}${key}`),
});

export interface FailureRedriveEntry {
  readonly key: string;
  readonly outcome: 'redriven' | 'would-redrive' | 'left' | 'unreadable';
  /** Outbox events in the object, republished now, and found published before (skipped). */
  readonly events: number;
  readonly republished: number;
  readonly skipped: number;
  readonly reason?: string;
}

export interface FailureRedriveReport {
  readonly store: string;
  readonly objects: number;
  readonly republished: number;
  readonly skipped: number;
  readonly left: number;
  readonly entries: readonly FailureRedriveEntry[];
}

/** The stream records of a failure object: `payload` is the whole invocation event, as JSON text. */
export const recordsOfFailureObject = (body: string): DynamoDBRecord[] => {
  const object = JSON.parse(body) as { payload?: unknown };
  const payload = typeof object.payload === 'string' ? JSON.parse(object.payload) : object.payload;
  const records = (payload as { Records?: unknown } | undefined)?.Records;
  if (!Array.isArray(records)) throw new Error('no payload with Records (not an S3 on-failure object?)');
  return records as DynamoDBRecord[];
};

/**
 * Republish the events of stream batches the relay's mapping gave up on, from their failure
 * objects, through the relay's own steps: classify the records, leave out what delivery tracking
 * shows published or parked (skipAccepted), publish, mark published. An object whose events are
 * all out is moved under `redriven/`; one with events still failing (or poison) stays, named in
 * the report. A second run therefore finds nothing, and even an object left behind by a crash
 * between publishing and moving is skipped event by event.
 */
export const redriveFailures = async (
  target: Pick<
    OutboxTarget,
    'doc' | 'eventBridge' | 'eventBusName' | 'source' | 'tableName' | 'layout' | 'retentionDays'
  >,
  store: FailureStore,
  options: { readonly dryRun?: boolean; readonly max?: number; readonly now?: () => Date } = {},
): Promise<FailureRedriveReport> => {
  const now = options.now ?? (() => new Date());
  const { publisher, tracker } = republishingOf(target);
  const memory = new SettledMemory();
  const entries: FailureRedriveEntry[] = [];
  const keys = (await store.list()).slice(0, options.max ?? Number.POSITIVE_INFINITY);

  for (const key of keys) {
    let records: DynamoDBRecord[];
    try {
      records = recordsOfFailureObject(await store.read(key));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      entries.push({ key, outcome: 'unreadable', events: 0, republished: 0, skipped: 0, reason });
      continue;
    }
    const classified = classify(target.layout, records);
    const events = classified.candidates.length + classified.malformed.length;
    // Any record of a failed batch may have been published before: all are looked up.
    const skip = await skipAccepted({ memory, tracker }, classified, () => true);
    const { batch } = skip;
    if (options.dryRun) {
      entries.push({ key, outcome: 'would-redrive', events, republished: 0, skipped: skip.skipped });
      continue;
    }
    const result = await publisher.publish(batch.candidates.map((c) => c.value));
    const published = result.published.flatMap((i) =>
      batch.candidates[i] ? [batch.candidates[i].value] : [],
    );
    if (published.length > 0) await tracker.markPublished(published, now());
    memory.remember(
      published.map((p) => p.key),
      'settled',
    );
    const failed = [
      ...result.retryable.map((f) => `${f.errorCode}: ${f.errorMessage}`),
      ...result.poison.map((f) => `poison ${f.errorCode}: ${f.errorMessage}`),
      ...batch.malformed.map(
        (m) => `poison ${m.value.errorCode} at ${describeKey(m.value.key)}: ${m.value.reason}`,
      ),
    ];
    if (failed.length === 0) await store.markRedriven(key);
    entries.push({
      key,
      outcome: failed.length === 0 ? 'redriven' : 'left',
      events,
      republished: published.length,
      skipped: skip.skipped,
      ...(failed.length > 0 ? { reason: [...new Set(failed)].join('; ') } : {}),
    });
  }
  return {
    store: store.description,
    objects: keys.length,
    republished: entries.reduce((sum, e) => sum + e.republished, 0),
    skipped: entries.reduce((sum, e) => sum + e.skipped, 0),
    left: entries.filter((e) => e.outcome === 'left' || e.outcome === 'unreadable').length,
    entries,
  };
};

export const formatFailureRedrive = (report: FailureRedriveReport, dryRun: boolean): string => {
  const lines = [
    `${dryRun ? 'Redrive preview' : 'Redrive'} of the failure destination (${report.store})`,
    `  failure objects       ${report.objects}`,
  ];
  if (dryRun) {
    lines.push(
      `  events to republish   ${report.entries.reduce((sum, e) => sum + e.events - e.skipped, 0)}`,
      `  already published     ${report.skipped}`,
    );
  } else {
    lines.push(
      `  events republished    ${report.republished}`,
      `  already published     ${report.skipped}`,
      `  objects left          ${report.left}`,
    );
  }
  for (const e of report.entries)
    if (e.outcome === 'left' || e.outcome === 'unreadable')
      lines.push(`  ${e.outcome.padEnd(16)}${e.key}: ${e.reason}`);
  return lines.join('\n');
};
