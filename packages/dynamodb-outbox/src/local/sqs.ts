import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, configuredPort, listen, RequestBodyTooLargeError, readBody, sendJson } from './http.js';
import { DEFAULT_PORTS } from './ports.js';

/** The AWS JSON 1.0 protocol SQS speaks. */
const SQS_CONTENT_TYPE = 'application/x-amz-json-1.0';

/*
 * A local stand-in for the SQS queues of the stack (the relay's poison and failure queues, the
 * consumers' dead-letter queues), so that the same code reaches them offline as on AWS: the relay's
 * PoisonQueue and the `npm run outbox` CLI use the real @aws-sdk/client-sqs against it.
 *
 * Mirrored from the SQS API reference, AWS JSON 1.0 protocol (POST / with
 * `X-Amz-Target: AmazonSQS.<Operation>`): GetQueueUrl, ListQueues, GetQueueAttributes
 * (ApproximateNumberOfMessages, ApproximateNumberOfMessagesNotVisible, QueueArn), SendMessage,
 * SendMessageBatch (1 to 10 entries), ReceiveMessage (1 to 10 messages, visibility timeout,
 * ApproximateReceiveCount), DeleteMessage, DeleteMessageBatch, ChangeMessageVisibility(Batch). Message
 * bodies up to 256 KiB; MD5 digests as SQS computes them (the SDK verifies them). Errors use the
 * JSON shape `{"__type": "com.amazonaws.sqs#Code", "message": ...}`, which the SDK maps to its exceptions.
 *
 * Not mirrored: long polling (WaitTimeSeconds is answered at once), FIFO queues, message
 * attributes, redrive policies, SigV4 verification, persistence across restarts.
 */

export const DEFAULT_SQS_PORT = DEFAULT_PORTS.sqs;
const ACCOUNT = '000000000000';
const MAX_MESSAGE_BYTES = 256 * 1024;
const MAX_BATCH = 10;
/** Room for a full batch of message bodies after JSON escaping, plus the request around them. */
const MAX_REQUEST_BYTES = 2 * MAX_MESSAGE_BYTES + 64 * 1024;
const DEFAULT_VISIBILITY_SECONDS = 30;

interface StoredMessage {
  readonly id: string;
  readonly body: string;
  readonly md5: string;
  readonly sentAt: number;
  visibleAt: number;
  receiveCount: number;
  receiptHandle?: string;
}

class SqsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const md5 = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const text = (input: Record<string, unknown>, name: string): string => {
  const value = input[name];
  if (typeof value !== 'string' || value === '')
    throw new SqsError('MissingParameter', `The request must contain the parameter ${name}.`);
  return value;
};

export interface LocalSqsOptions {
  /** 0 picks a free port. @default SQS_PORT, else 9324 */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** Queues that exist from the start. */
  readonly queues?: readonly string[];
}

export class LocalSqs {
  private readonly queues = new Map<string, StoredMessage[]>();
  private server: Server | undefined;
  private boundPort = 0;

  constructor(private readonly options: LocalSqsOptions = {}) {
    for (const name of options.queues ?? []) this.createQueue(name);
  }

  get endpoint(): string {
    return `http://${this.options.host ?? '127.0.0.1'}:${this.boundPort}`;
  }

  /** Create `name` if it does not exist; returns its URL. */
  createQueue(name: string): string {
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) throw new Error(`Invalid queue name ${name}`);
    if (!this.queues.has(name)) this.queues.set(name, []);
    return this.queueUrl(name);
  }

  queueUrl(name: string): string {
    return `${this.endpoint}/${ACCOUNT}/${name}`;
  }

  /** Messages held by `name` (visible or not), oldest first: for tests and the console. */
  messages(name: string): readonly { readonly id: string; readonly body: string }[] {
    return (this.queues.get(name) ?? []).map(({ id, body }) => ({ id, body }));
  }

  async start(): Promise<void> {
    const port = configuredPort('SQS', this.options.port, 'SQS_PORT', DEFAULT_SQS_PORT);
    const server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) =>
        this.sendError(response, new SqsError('InternalError', String(error), 500)),
      );
    });
    this.boundPort = await listen(server, port, this.options.host ?? '127.0.0.1');
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await closeServer(server);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      const target = request.headers['x-amz-target'];
      if (request.method !== 'POST' || typeof target !== 'string' || !target.startsWith('AmazonSQS.'))
        throw new SqsError('InvalidAction', 'Use POST / with X-Amz-Target: AmazonSQS.<Operation>.');
      const raw = await readBody(request, MAX_REQUEST_BYTES).catch((error: unknown) => {
        throw error instanceof RequestBodyTooLargeError
          ? new SqsError('BatchRequestTooLong', 'The request is too large.')
          : error;
      });
      let input: unknown;
      try {
        input = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
      } catch {
        throw new SqsError('InvalidParameterValue', 'The request body is not valid JSON.');
      }
      if (!isRecord(input))
        throw new SqsError('InvalidParameterValue', 'The request body must be an object.');
      sendJson(response, 200, this.dispatch(target.slice('AmazonSQS.'.length), input), {
        'Content-Type': SQS_CONTENT_TYPE,
      });
    } catch (error) {
      if (error instanceof SqsError) return this.sendError(response, error);
      throw error;
    }
  }

  private dispatch(operation: string, input: Record<string, unknown>): unknown {
    switch (operation) {
      case 'GetQueueUrl': {
        const name = text(input, 'QueueName');
        if (!this.queues.has(name)) throw queueMissing();
        return { QueueUrl: this.queueUrl(name) };
      }
      case 'ListQueues': {
        const prefix = typeof input.QueueNamePrefix === 'string' ? input.QueueNamePrefix : '';
        return {
          QueueUrls: [...this.queues.keys()].filter((n) => n.startsWith(prefix)).map((n) => this.queueUrl(n)),
        };
      }
      case 'GetQueueAttributes': {
        const [name, messages] = this.queue(input);
        const now = Date.now();
        const visible = messages.filter((m) => m.visibleAt <= now).length;
        return {
          Attributes: {
            QueueArn: `arn:aws:sqs:${this.options.region ?? 'us-east-1'}:${ACCOUNT}:${name}`,
            ApproximateNumberOfMessages: String(visible),
            ApproximateNumberOfMessagesNotVisible: String(messages.length - visible),
            ApproximateNumberOfMessagesDelayed: '0',
          },
        };
      }
      case 'SendMessage': {
        const [, messages] = this.queue(input);
        const message = this.newMessage(text(input, 'MessageBody'));
        messages.push(message);
        return { MessageId: message.id, MD5OfMessageBody: message.md5 };
      }
      case 'SendMessageBatch': {
        const [, messages] = this.queue(input);
        const entries = this.batch(input);
        const total = entries.reduce(
          (sum, e) => sum + Buffer.byteLength(String(e.MessageBody ?? ''), 'utf8'),
          0,
        );
        if (total > MAX_MESSAGE_BYTES)
          throw new SqsError(
            'BatchRequestTooLong',
            `Batch requests cannot be longer than ${MAX_MESSAGE_BYTES} bytes.`,
          );
        const successful = entries.map((entry) => {
          const message = this.newMessage(text(entry, 'MessageBody'));
          messages.push(message);
          return { Id: text(entry, 'Id'), MessageId: message.id, MD5OfMessageBody: message.md5 };
        });
        return { Successful: successful, Failed: [] };
      }
      case 'ReceiveMessage': {
        const [, messages] = this.queue(input);
        const max = input.MaxNumberOfMessages === undefined ? 1 : Number(input.MaxNumberOfMessages);
        if (!Number.isInteger(max) || max < 1 || max > MAX_BATCH)
          throw new SqsError('InvalidParameterValue', 'MaxNumberOfMessages must be between 1 and 10.');
        const visibility =
          input.VisibilityTimeout === undefined
            ? DEFAULT_VISIBILITY_SECONDS
            : Number(input.VisibilityTimeout);
        const now = Date.now();
        const picked = messages.filter((m) => m.visibleAt <= now).slice(0, max);
        return {
          Messages: picked.map((m) => {
            m.receiveCount++;
            m.visibleAt = now + visibility * 1000;
            m.receiptHandle = randomUUID();
            return {
              MessageId: m.id,
              ReceiptHandle: m.receiptHandle,
              MD5OfBody: m.md5,
              Body: m.body,
              Attributes: {
                ApproximateReceiveCount: String(m.receiveCount),
                SentTimestamp: String(m.sentAt),
              },
            };
          }),
        };
      }
      case 'DeleteMessage': {
        const [, messages] = this.queue(input);
        this.remove(messages, text(input, 'ReceiptHandle'));
        return {};
      }
      case 'DeleteMessageBatch': {
        const [, messages] = this.queue(input);
        const successful: Array<{ Id: string }> = [];
        const failed: Array<{ Id: string; Code: string; Message: string; SenderFault: boolean }> = [];
        for (const entry of this.batch(input)) {
          try {
            this.remove(messages, text(entry, 'ReceiptHandle'));
            successful.push({ Id: text(entry, 'Id') });
          } catch (error) {
            const e = error instanceof SqsError ? error : new SqsError('InternalError', String(error));
            failed.push({ Id: String(entry.Id), Code: e.code, Message: e.message, SenderFault: true });
          }
        }
        return { Successful: successful, Failed: failed };
      }
      case 'ChangeMessageVisibilityBatch': {
        const [, messages] = this.queue(input);
        const successful: Array<{ Id: string }> = [];
        const failed: Array<{ Id: string; Code: string; Message: string; SenderFault: boolean }> = [];
        for (const entry of this.batch(input)) {
          const message = messages.find((m) => m.receiptHandle === entry.ReceiptHandle);
          if (message === undefined) {
            failed.push({
              Id: String(entry.Id),
              Code: 'ReceiptHandleIsInvalid',
              Message: 'The receipt handle is not valid.',
              SenderFault: true,
            });
            continue;
          }
          message.visibleAt = Date.now() + Number(entry.VisibilityTimeout ?? 0) * 1000;
          successful.push({ Id: text(entry, 'Id') });
        }
        return { Successful: successful, Failed: failed };
      }
      case 'ChangeMessageVisibility': {
        const [, messages] = this.queue(input);
        const handle = text(input, 'ReceiptHandle');
        const message = messages.find((m) => m.receiptHandle === handle);
        if (!message) throw new SqsError('ReceiptHandleIsInvalid', 'The receipt handle is not valid.');
        message.visibleAt = Date.now() + Number(input.VisibilityTimeout ?? 0) * 1000;
        return {};
      }
      default:
        throw new SqsError('InvalidAction', `The action ${operation} is not valid for this endpoint.`);
    }
  }

  private queue(input: Record<string, unknown>): [string, StoredMessage[]] {
    const url = text(input, 'QueueUrl');
    const name = url.split('/').pop() ?? '';
    const messages = this.queues.get(name);
    if (messages === undefined) throw queueMissing();
    return [name, messages];
  }

  private batch(input: Record<string, unknown>): Record<string, unknown>[] {
    const entries = input.Entries;
    if (!Array.isArray(entries) || entries.length === 0)
      throw new SqsError('EmptyBatchRequest', 'There should be at least one entry in the request.');
    if (entries.length > MAX_BATCH)
      throw new SqsError(
        'TooManyEntriesInBatchRequest',
        `Maximum number of entries per request are ${MAX_BATCH}.`,
      );
    return entries.filter(isRecord);
  }

  private newMessage(body: string): StoredMessage {
    if (Buffer.byteLength(body, 'utf8') > MAX_MESSAGE_BYTES)
      throw new SqsError(
        'InvalidParameterValue',
        `One or more parameters are invalid. Reason: Message must be shorter than ${MAX_MESSAGE_BYTES} bytes.`,
      );
    const now = Date.now();
    return { id: randomUUID(), body, md5: md5(body), sentAt: now, visibleAt: now, receiveCount: 0 };
  }

  private remove(messages: StoredMessage[], receiptHandle: string): void {
    const index = messages.findIndex((m) => m.receiptHandle === receiptHandle);
    if (index < 0) throw new SqsError('ReceiptHandleIsInvalid', 'The input receipt handle is invalid.');
    messages.splice(index, 1);
  }

  private sendError(response: ServerResponse, error: SqsError): void {
    sendJson(
      response,
      error.status,
      { __type: `com.amazonaws.sqs#${error.code}`, message: error.message },
      { 'Content-Type': SQS_CONTENT_TYPE },
    );
  }
}

const queueMissing = () => new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');

/** Start a local SQS endpoint with `queues`; `stop()` it when done. */
export const startLocalSqs = async (options: LocalSqsOptions = {}): Promise<LocalSqs> => {
  const sqs = new LocalSqs(options);
  await sqs.start();
  return sqs;
};
