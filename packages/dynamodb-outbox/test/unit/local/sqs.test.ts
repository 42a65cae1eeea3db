import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSqs, startLocalSqs } from '../../../src/local/sqs';

describe('local SQS endpoint, through the real SDK client', () => {
  let sqs: LocalSqs;
  let client: SQSClient;

  beforeAll(async () => {
    sqs = await startLocalSqs({ port: 0, queues: ['poison', 'other'] });
    client = new SQSClient({
      endpoint: sqs.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });
  afterAll(async () => {
    client.destroy();
    await sqs.stop();
  });

  const depth = async (queueUrl: string) => {
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }),
    );
    return [
      Number(Attributes?.ApproximateNumberOfMessages),
      Number(Attributes?.ApproximateNumberOfMessagesNotVisible),
    ];
  };

  it('lists and resolves queues', async () => {
    const { QueueUrls } = await client.send(new ListQueuesCommand({}));
    const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: 'poison' }));
    expect(QueueUrls).toEqual([sqs.queueUrl('poison'), sqs.queueUrl('other')]);
    expect(QueueUrl).toBe(sqs.queueUrl('poison'));
  });

  it('sends, receives with a visibility timeout, and deletes, with the digests the SDK checks', async () => {
    // Prepare
    const queueUrl = sqs.queueUrl('poison');
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          { Id: 'a', MessageBody: '{"n":1}' },
          { Id: 'b', MessageBody: '{"n":2,"text":"ünïcødé"}' },
        ],
      }),
    );
    await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{"n":3}' }));

    // Act
    const first = await client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 2, VisibilityTimeout: 60 }),
    );
    const afterReceive = await depth(queueUrl);
    await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: (first.Messages ?? []).map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );

    // Assess
    expect(first.Messages?.map((m) => m.Body)).toEqual(['{"n":1}', '{"n":2,"text":"ünïcødé"}']);
    expect(afterReceive).toEqual([1, 2]);
    expect(await depth(queueUrl)).toEqual([1, 0]);
    expect(sqs.messages('poison').map((m) => m.body)).toEqual(['{"n":3}']);
  });

  it('makes a received message visible again once its visibility timeout passes', async () => {
    // Prepare
    const queueUrl = sqs.queueUrl('other');
    await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x' }));

    // Act
    await client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 0 }));
    const again = await client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 30 }));

    // Assess
    expect(again.Messages?.[0]?.Attributes?.ApproximateReceiveCount).toBe('2');
  });

  it('answers an unknown queue with the SDK exception', async () => {
    await expect(
      client.send(new SendMessageCommand({ QueueUrl: sqs.queueUrl('missing'), MessageBody: 'x' })),
    ).rejects.toBeInstanceOf(QueueDoesNotExist);
  });

  it('refuses a message over 256 KiB', async () => {
    await expect(
      client.send(
        new SendMessageCommand({ QueueUrl: sqs.queueUrl('other'), MessageBody: 'x'.repeat(262_145) }),
      ),
    ).rejects.toThrow(/shorter than 262144 bytes/);
  });
});
