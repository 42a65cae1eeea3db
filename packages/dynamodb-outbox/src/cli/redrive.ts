import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { poisonMessageSchema } from '../engine/poison-queue.js';
import { type OutboxRecord, parseOutboxItem } from '../runtime/outbox-item.js';
import { republishingOf } from './republish.js';
import type { OutboxTarget } from './target.js';

export interface RedriveOptions {
  /** Messages to read at most. @default 1000 */
  readonly max?: number;
  /** Show what would be republished; publish nothing, delete nothing. @default false */
  readonly dryRun?: boolean;
  /** Seconds a read message stays hidden from other readers while it is handled. @default 60 */
  readonly visibilityTimeoutSeconds?: number;
  readonly now?: () => Date;
}

export interface RedriveEntry {
  readonly messageId: string;
  readonly eventId?: string;
  /** Where the republished content came from: the table (fixed in place) or the message. */
  readonly from?: 'table' | 'message';
  readonly outcome: 'republished' | 'would-republish' | 'still-poison' | 'retryable' | 'unresolvable';
  readonly reason?: string;
}

export interface RedriveReport {
  readonly queueUrl: string;
  readonly read: number;
  readonly republished: number;
  readonly deleted: number;
  readonly left: number;
  readonly entries: readonly RedriveEntry[];
}

interface Resolved {
  readonly message: Message;
  readonly record?: OutboxRecord;
  readonly from?: 'table' | 'message';
  readonly reason?: string;
}

/**
 * The outbox item a poison message stands for. The table wins: an operator fixes an item in place
 * (shrinks an oversize payload, corrects a field), then redrives. The message's copy is the
 * fallback for an item no longer in the table.
 */
const resolve = async (target: OutboxTarget, message: Message): Promise<Resolved> => {
  let body: unknown;
  try {
    body = JSON.parse(message.Body ?? '');
  } catch {
    return { message, reason: 'message body is not JSON' };
  }
  const parsed = poisonMessageSchema.safeParse(body);
  if (!parsed.success) return { message, reason: 'not an outbox poison message' };
  const { key, item } = parsed.data;
  if (key) {
    const { Item } = await target.doc.send(
      new GetCommand({ TableName: target.tableName, Key: key, ConsistentRead: true }),
    );
    if (Item) {
      const fromTable = parseOutboxItem(target.layout, Item);
      if (fromTable.ok) return { message, record: fromTable.record, from: 'table' };
      return { message, reason: `item in the table is still not a valid outbox item: ${fromTable.reason}` };
    }
  }
  const fromMessage = item === undefined ? undefined : parseOutboxItem(target.layout, item);
  if (fromMessage?.ok) return { message, record: fromMessage.record, from: 'message' };
  if (fromMessage) return { message, reason: `the copy in the message: ${fromMessage.reason}` };
  return {
    message,
    reason: key ? 'item is gone from the table and the message has no copy' : 'message has no item',
  };
};

/**
 * Republish what the relay (or the reconciler) parked on the poison queue, once the cause is
 * fixed: through the same publisher, marking items published as the relay would. A message is
 * deleted only after EventBridge accepted its event; everything else stays on the queue.
 */
export const redrive = async (target: OutboxTarget, options: RedriveOptions = {}): Promise<RedriveReport> => {
  const queueUrl = target.poisonQueueUrl;
  if (queueUrl === undefined) throw new Error('No poison queue: pass --poison-queue-url');
  const max = options.max ?? 1000;
  const now = options.now ?? (() => new Date());
  const { publisher, tracker } = republishingOf(target);
  const entries: RedriveEntry[] = [];
  /** Messages read but not deleted: visible again once the run is over, not after the timeout. */
  const kept: Message[] = [];
  let read = 0;
  let deleted = 0;
  let republished = 0;

  while (read < max) {
    const { Messages = [] } = await target.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, max - read),
        // A dry run reads without holding messages back from a real redrive.
        VisibilityTimeout: options.dryRun ? 0 : (options.visibilityTimeoutSeconds ?? 60),
        WaitTimeSeconds: 0,
      }),
    );
    if (Messages.length === 0) break;
    read += Messages.length;
    const resolved = await Promise.all(Messages.map((m) => resolve(target, m)));
    for (const r of resolved.filter((x) => x.record === undefined)) {
      entries.push({ messageId: r.message.MessageId ?? '', outcome: 'unresolvable', reason: r.reason ?? '' });
      kept.push(r.message);
    }
    const publishable = resolved.filter(
      (r): r is Resolved & { record: OutboxRecord } => r.record !== undefined,
    );

    if (options.dryRun) {
      // The publisher's own checks, so the preview calls poison exactly what the redrive would.
      for (const r of publishable) {
        const problem = publisher.check(r.record);
        entries.push({
          messageId: r.message.MessageId ?? '',
          eventId: r.record.envelope.eventId,
          ...(r.from ? { from: r.from } : {}),
          outcome: problem ? 'still-poison' : 'would-republish',
          ...(problem ? { reason: `${problem.errorCode}: ${problem.errorMessage}` } : {}),
        });
      }
      // Without a visibility timeout the same messages come back at once: one page is the preview.
      break;
    }

    // Two messages for one event (the relay and the reconciler both parked it): publish it once.
    const unique = [...new Map(publishable.map((r) => [r.record.envelope.eventId, r.record])).values()];
    const result = await publisher.publish(unique);
    const eventIdAt = (index: number): string => unique[index]?.envelope.eventId ?? '';
    const publishedIds = new Set(result.published.map(eventIdAt));
    const failures = new Map(
      [
        ...result.retryable.map((f) => ({ ...f, kind: 'retryable' as const })),
        ...result.poison.map((f) => ({ ...f, kind: 'still-poison' as const })),
      ].map((f) => [eventIdAt(f.index), f]),
    );
    if (result.published.length > 0)
      await tracker.markRedriven(
        result.published.flatMap((index) => (unique[index] ? [unique[index]] : [])),
        now(),
      );
    republished += result.published.length;

    const done = publishable.filter((r) => publishedIds.has(r.record.envelope.eventId));
    kept.push(
      ...publishable.filter((r) => !publishedIds.has(r.record.envelope.eventId)).map((r) => r.message),
    );
    for (const r of publishable) {
      const eventId = r.record.envelope.eventId;
      const failure = failures.get(eventId);
      entries.push({
        messageId: r.message.MessageId ?? '',
        eventId,
        ...(r.from ? { from: r.from } : {}),
        outcome: publishedIds.has(eventId) ? 'republished' : (failure?.kind ?? 'retryable'),
        ...(failure ? { reason: `${failure.errorCode}: ${failure.errorMessage}` } : {}),
      });
    }
    if (done.length > 0) {
      const response = await target.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.message.ReceiptHandle })),
        }),
      );
      deleted += response.Successful?.length ?? 0;
    }
  }
  await releaseKept(target, queueUrl, kept);
  return {
    queueUrl,
    read,
    republished,
    deleted,
    left: entries.filter((e) => e.outcome !== 'republished').length,
    entries,
  };
};

/** Make what stays on the queue visible again now, so a second redrive after a fix sees it at once. */
const releaseKept = async (
  target: OutboxTarget,
  queueUrl: string,
  kept: readonly Message[],
): Promise<void> => {
  for (let i = 0; i < kept.length; i += 10) {
    const batch = kept.slice(i, i + 10);
    await target.sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: batch.map((m, n) => ({
          Id: String(n),
          ReceiptHandle: m.ReceiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
};

export const formatRedrive = (report: RedriveReport, dryRun: boolean): string => {
  const lines = [
    `${dryRun ? 'Redrive preview' : 'Redrive'} of ${report.queueUrl}`,
    `  messages read         ${report.read}`,
  ];
  if (dryRun) {
    const count = (outcome: RedriveEntry['outcome']) =>
      report.entries.filter((e) => e.outcome === outcome).length;
    lines.push(`  would republish       ${count('would-republish')}`);
    lines.push(`  still poison          ${count('still-poison')}`);
    lines.push(`  unresolvable          ${count('unresolvable')}`);
  } else {
    lines.push(`  events republished    ${report.republished}`);
    lines.push(`  messages deleted      ${report.deleted}`);
    lines.push(`  messages left         ${report.left}`);
  }
  for (const e of report.entries) {
    if (e.outcome === 'republished') continue;
    const what = e.eventId ? `event ${e.eventId}` : `message ${e.messageId}`;
    lines.push(
      `  ${e.outcome.padEnd(16)}${what}${e.from ? ` (from the ${e.from})` : ''}${e.reason ? `: ${e.reason}` : ''}`,
    );
  }
  return lines.join('\n');
};
