import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandInput,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../../src/engine/relay-handler';
import type { EventEnvelope } from '../../../src/runtime/envelope';
import { keyOf, outboxItem, streamEvent, streamRecord } from '../../support/unit';

// The Lambda entry builds its dependencies from the environment when it is imported, as at cold
// start: the environment is written through the same contract the construct uses.
await vi.hoisted(async () => {
  const { relaySettings } = await import('../../../src/runtime/settings');
  const { ordersOutboxLayout } = await import('../../support/sample-table');
  Object.assign(
    process.env,
    relaySettings.toEnv({
      eventBusName: 'orders-bus',
      source: 'orders',
      poisonQueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/relay-poison',
      putEventsMaxBytes: 256 * 1024,
      tableName: 'orders',
      layout: ordersOutboxLayout,
      deliveryTracking: true,
      retentionDays: 7,
    }),
  );
});

const eventBridgeMock = mockClient(EventBridgeClient);
const sqsMock = mockClient(SQSClient);
const docMock = mockClient(DynamoDBDocumentClient);

const context = {
  functionName: 'outbox-relay',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:outbox-relay',
  memoryLimitInMB: '512',
  awsRequestId: 'request-1',
  getRemainingTimeInMillis: () => 30_000,
} as Context;

const detailOf = (entry: PutEventsRequestEntry): EventEnvelope => JSON.parse(entry.Detail ?? '{}');

describe('relay Lambda entry', () => {
  beforeEach(() => {
    eventBridgeMock.reset();
    sqsMock.reset();
    docMock.reset();
    docMock.on(PutCommand).resolves({});
    docMock.on(QueryCommand).resolves({ Items: [] });
    eventBridgeMock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => ({
      Entries: (input.Entries ?? []).map((_, i) => ({ EventId: `eb-${i}` })),
    }));
  });

  it('runs as deployed: wired from the environment, wrapped in the Powertools middlewares', async () => {
    // Prepare
    const items = Array.from({ length: 12 }, (_, n) => outboxItem(n));
    const event = streamEvent(items.map((item, n) => streamRecord(n, item)));

    // Act
    const response = await handler(event, context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const entries = eventBridgeMock
      .commandCalls(PutEventsCommand)
      .flatMap((c) => (c.args[0].input as PutEventsCommandInput).Entries ?? []);
    expect(entries.map((e) => detailOf(e).eventId)).toEqual(items.map((i) => i.eventId));
    expect(entries.every((e) => e.EventBusName === 'orders-bus' && e.Source === 'orders')).toBe(true);
    const receipts = docMock.commandCalls(PutCommand).map((c) => c.args[0].input);
    expect(receipts.map((r) => [r.TableName, r.Item?.published])).toEqual([
      ['orders', new Set(items.map((i) => JSON.stringify([keyOf(i).PK, keyOf(i).SK])))],
    ]);
  });
});
