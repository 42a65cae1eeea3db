import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { type EventEnvelope, OutboxWriter, writerSettings } from 'dynamodb-outbox/runtime';

const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));
// What `outbox.grantWrite` put into the environment: the outbox table, its layout, the retention.
const outbox = new OutboxWriter(writerSettings.fromEnv());

interface RecordPayment {
  readonly paymentId: string;
  readonly amountCents: number;
}

/** Records a payment and its PaymentRecorded event: one transaction, both or neither. */
export const handler = async (input: RecordPayment): Promise<{ eventId: string }> => {
  const event: EventEnvelope = {
    eventId: randomUUID(),
    eventType: 'PaymentRecorded',
    aggregateType: 'Payment',
    aggregateId: input.paymentId,
    sequence: 1,
    occurredAt: new Date().toISOString(),
    schemaVersion: 1,
    payload: { paymentId: input.paymentId, amountCents: input.amountCents },
  };
  const payment = {
    Put: {
      TableName: process.env.PAYMENTS_TABLE,
      Item: { paymentId: input.paymentId, amountCents: input.amountCents },
      ConditionExpression: 'attribute_not_exists(paymentId)',
    },
  };
  await client.send(new TransactWriteCommand({ TransactItems: outbox.transaction([payment], [event]) }));
  return { eventId: event.eventId };
};
