import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { mapWithConcurrency } from '../runtime/concurrency.js';
import { utf8Bytes } from '../runtime/entry-size.js';
import type { EventEnvelope } from '../runtime/envelope.js';
import type { OutboxKey } from '../runtime/layout.js';
import * as z from '../runtime/zod.js';

/** Where a poison record came from in the table's stream, so it can be found and re-driven. */
export const streamPositionSchema = z.object({
  eventID: z.string(),
  sequenceNumber: z.string(),
  eventSourceARN: z.optional(z.string()),
  approximateCreationDateTime: z.optional(z.number()),
});

/**
 * One message on the relay's poison queue: a record that can never be published as it is.
 * `item` is the outbox item as stored (what a redrive republishes once fixed); `image` is the raw
 * DynamoDB JSON of a stream image that could not be parsed as an outbox item. When the message
 * would exceed the SQS size limit, both are left out (`contentOmitted`) and `key` locates the
 * item in the table instead; that item is kept, its TTL removed (either layout), until a redrive
 * publishes it and re-arms it.
 */
export const poisonMessageSchema = z.object({
  kind: z.literal('outbox-poison'),
  version: z.literal(1),
  failedAt: z.iso.datetime(),
  errorCode: z.string(),
  reason: z.string(),
  /** The item's primary key, attribute name → value (the layout's key attributes). */
  key: z.optional(z.record(z.string(), z.string())),
  eventId: z.optional(z.string()),
  eventType: z.optional(z.string()),
  aggregateId: z.optional(z.string()),
  item: z.optional(z.record(z.string(), z.unknown())),
  image: z.optional(z.record(z.string(), z.unknown())),
  contentOmitted: z.optional(z.boolean()),
  stream: z.optional(streamPositionSchema),
});

export type PoisonMessage = z.infer<typeof poisonMessageSchema>;
export type StreamPosition = z.infer<typeof streamPositionSchema>;

export interface PoisonRecord {
  readonly errorCode: string;
  readonly reason: string;
  readonly key?: OutboxKey;
  /** The envelope, when the item could be read as one. */
  readonly envelope?: EventEnvelope;
  /** The item as stored. */
  readonly item?: Readonly<Record<string, unknown>>;
  readonly image?: Record<string, unknown>;
  readonly stream?: StreamPosition;
}

export interface PoisonSendFailure {
  readonly record: PoisonRecord;
  readonly errorCode: string;
  readonly errorMessage: string;
}

export interface PoisonSendResult {
  readonly sent: PoisonRecord[];
  readonly failed: PoisonSendFailure[];
}

export interface PoisonQueueDeps {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /**
   * Largest message body, and largest sum of bodies per SendMessageBatch call.
   * @default 262144 (256 KiB, the SQS limit that holds everywhere)
   */
  readonly maxMessageBytes?: number;
  readonly now?: () => Date;
}

const SQS_MAX_BATCH_ENTRIES = 10;
const MAX_REASON_CHARACTERS = 2000;

/** DynamoDB values JSON cannot carry natively, turned into their closest JSON form. */
const jsonSafe = (_key: string, value: unknown): unknown => {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Set) return [...value];
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return value;
};

/**
 * SQS accepts #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF. JSON.stringify
 * already escapes control characters and lone surrogates; U+FFFE and U+FFFF remain.
 */
const sqsSafe = (json: string): string =>
  json.replace(/[\uFFFE\uFFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);

/** The poison queue of the relay: SendMessageBatch, within SQS's count and size limits. */
export class PoisonQueue {
  private readonly sqs: SQSClient;
  private readonly queueUrl: string;
  private readonly maxMessageBytes: number;
  private readonly now: () => Date;

  constructor(deps: PoisonQueueDeps) {
    this.sqs = deps.sqs;
    this.queueUrl = deps.queueUrl;
    this.maxMessageBytes = deps.maxMessageBytes ?? 256 * 1024;
    this.now = deps.now ?? (() => new Date());
  }

  /** The message body for `record`: complete when it fits, reduced to pointers when not. */
  body(record: PoisonRecord): string {
    const message: PoisonMessage = {
      kind: 'outbox-poison',
      version: 1,
      failedAt: this.now().toISOString(),
      errorCode: record.errorCode,
      reason: record.reason.slice(0, MAX_REASON_CHARACTERS),
      ...(record.key ? { key: { ...record.key } } : {}),
      ...(record.envelope
        ? {
            eventId: record.envelope.eventId,
            eventType: record.envelope.eventType,
            aggregateId: record.envelope.aggregateId,
          }
        : {}),
      ...(record.stream ? { stream: record.stream } : {}),
    };
    const full = sqsSafe(
      JSON.stringify(
        {
          ...message,
          ...(record.item ? { item: record.item } : {}),
          ...(record.image ? { image: record.image } : {}),
        },
        jsonSafe,
      ),
    );
    if (utf8Bytes(full) <= this.maxMessageBytes) return full;
    return sqsSafe(JSON.stringify({ ...message, contentOmitted: true }, jsonSafe));
  }

  async send(records: readonly PoisonRecord[]): Promise<PoisonSendResult> {
    const bodies = records.map((record) => this.body(record));
    const batches: number[][] = [];
    let current: number[] = [];
    let bytes = 0;
    bodies.forEach((body, index) => {
      const size = utf8Bytes(body);
      if (
        current.length >= SQS_MAX_BATCH_ENTRIES ||
        (current.length > 0 && bytes + size > this.maxMessageBytes)
      ) {
        batches.push(current);
        current = [];
        bytes = 0;
      }
      current.push(index);
      bytes += size;
    });
    if (current.length > 0) batches.push(current);

    const failures = new Map<number, { errorCode: string; errorMessage: string }>();
    await mapWithConcurrency(batches, 4, async (batch) => {
      const entries: SendMessageBatchRequestEntry[] = batch.map((index) => ({
        Id: `m${index}`,
        MessageBody: bodies[index],
      }));
      try {
        const response = await this.sqs.send(
          new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }),
        );
        const succeeded = new Set((response.Successful ?? []).map((s) => s.Id));
        const failedById = new Map((response.Failed ?? []).map((f) => [f.Id, f]));
        for (const index of batch) {
          const id = `m${index}`;
          if (succeeded.has(id)) continue;
          const failed = failedById.get(id);
          failures.set(index, {
            errorCode: failed?.Code ?? 'MissingResultEntry',
            errorMessage: failed?.Message ?? 'SendMessageBatch returned no result for this message',
          });
        }
      } catch (error) {
        const failure = {
          errorCode: error instanceof Error ? error.name : 'UnknownError',
          errorMessage: error instanceof Error ? error.message : String(error),
        };
        for (const index of batch) failures.set(index, failure);
      }
    });

    const result: PoisonSendResult = { sent: [], failed: [] };
    records.forEach((record, index) => {
      const failure = failures.get(index);
      if (failure) result.failed.push({ record, ...failure });
      else result.sent.push(record);
    });
    return result;
  }
}
