import { createHash } from 'node:crypto';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Context } from 'aws-lambda';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as inventoryHandler } from '../../../lambdas/inventory/handler';
import { handler as ordersHandler } from '../../../lambdas/orders/handler';
import { handler as reconcilerHandler } from '../../../packages/dynamodb-outbox/src/engine/reconciler-handler';
import { handler as relayHandler } from '../../../packages/dynamodb-outbox/src/engine/relay-handler';
import { tracer } from '../../../packages/dynamodb-outbox/src/runtime/powertools';
import {
  lambdaContext,
  outboxItem,
  streamEvent,
  streamRecord,
} from '../../../packages/dynamodb-outbox/test/support/unit';
import placedFixture from '../inventory/fixtures/order-placed.json';
import placeOrderBody from '../orders/fixtures/place-order-body.json';
import { httpEvent, jsonHeaders } from '../orders/support';

/*
 * Every Lambda entry with tracing on, as in a deployed function with active tracing: the X-Ray SDK
 * in its Lambda mode sends each closed subsegment to the daemon, here a UDP socket of the test;
 * the AWS clients call a local HTTP endpoint that answers like the services. No mock touches the
 * clients, so what arrives is what the instrumentation recorded.
 */

interface Subsegment {
  readonly id: string;
  readonly name: string;
  readonly parent_id: string;
  readonly trace_id: string;
  readonly annotations?: Record<string, unknown>;
  readonly metadata?: Record<string, Record<string, unknown>>;
  readonly aws?: { readonly operation?: string };
}

// Before any module loads: the X-Ray SDK reads the daemon address and the Lambda mode on import,
// the handlers read their settings and create their clients.
const { daemon, subsegments, endpoint, pendingPage } = await vi.hoisted(async () => {
  const { createSocket } = await import('node:dgram');
  const { createServer } = await import('node:http');
  const settings = await import('../../../packages/dynamodb-outbox/src/runtime/settings');
  const { TIME_ORDERED_TABLE_LAYOUT } = await import('../../../packages/dynamodb-outbox/src/runtime/layout');
  const { ordersOutboxLayout: layout } = await import(
    '../../../packages/dynamodb-outbox/test/support/sample-table'
  );

  const subsegments: Subsegment[] = [];
  const daemon = createSocket('udp4');
  // Each datagram: a JSON header line, then the document.
  daemon.on('message', (message) =>
    subsegments.push(JSON.parse(message.toString('utf8').split('\n')[1] ?? '')),
  );
  await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));

  /** The index page the reconciler reads once; every later Query, and its stuck events' partition, find nothing. */
  const pendingPage: { items: Record<string, unknown>[] } = { items: [] };
  const answers: Record<string, (input: Record<string, unknown>) => unknown> = {
    'AWSEvents.PutEvents': (input) => ({
      FailedEntryCount: 0,
      Entries: (input.Entries as unknown[]).map((_, i) => ({ EventId: `eb-${i}` })),
    }),
    'AmazonSQS.SendMessageBatch': (input) => ({
      Successful: (input.Entries as { Id: string; MessageBody: string }[]).map((entry) => ({
        Id: entry.Id,
        MessageId: `sqs-${entry.Id}`,
        MD5OfMessageBody: createHash('md5').update(entry.MessageBody).digest('hex'),
      })),
      Failed: [],
    }),
    // The reconciler's watermark at the minute of its cut-off (15 minutes back): one minute to list.
    'DynamoDB_20120810.GetItem': (input) =>
      (input.Key as { PK?: { S?: string } } | undefined)?.PK?.S === 'RECONCILER'
        ? {
            Item: {
              PK: { S: 'RECONCILER' },
              SK: { S: 'WATERMARK' },
              bucket: { S: new Date(Date.now() - 900_000).toISOString().slice(0, 16) },
            },
          }
        : {},
    // The time index holds the page; the stuck events' partition and the receipts are empty.
    'DynamoDB_20120810.Query': (input) => {
      const items = input.IndexName === undefined ? [] : pendingPage.items.splice(0);
      return { Items: items, Count: items.length };
    },
  };
  const endpoint = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const answer = answers[String(request.headers['x-amz-target'])];
      const body = answer ? answer(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}')) : {};
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));

  const awsEndpoint = `http://127.0.0.1:${(endpoint.address() as { port: number }).port}`;
  const outbox = {
    eventBusName: 'orders-bus',
    source: 'orders',
    // The SQS client sends to the queue URL's host.
    poisonQueueUrl: `${awsEndpoint}/123456789012/relay-poison`,
    putEventsMaxBytes: 256 * 1024,
    tableName: 'orders',
    layout,
    deliveryTracking: true,
    retentionDays: 7,
  };
  Object.assign(process.env, {
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    LAMBDA_TASK_ROOT: '/var/task',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    _HANDLER: 'index.handler',
    POWERTOOLS_TRACE_ENABLED: 'true',
    POWERTOOLS_SERVICE_NAME: 'traced',
    AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${(daemon.address() as { port: number }).port}`,
    AWS_ENDPOINT_URL: awsEndpoint,
    ...settings.relaySettings.toEnv(outbox),
    ...settings.reconcilerSettings.toEnv({ ...outbox, thresholdSeconds: 900, maxItemsPerRun: 100 }),
    TABLE_NAME: 'orders',
    ...settings.writerSettings.toEnv({
      tableName: 'orders',
      layout,
      deliveryTracking: true,
      retentionDays: 7,
    }),
    INVENTORY_TABLE_NAME: 'inventory',
    ...settings.transactionalConsumerSettings.toEnv({
      inboxTtlSeconds: 3600,
      outbox: {
        tableName: 'inventory-outbox',
        layout: TIME_ORDERED_TABLE_LAYOUT,
        deliveryTracking: true,
        retentionDays: 7,
      },
    }),
  });
  return { daemon, subsegments, endpoint, pendingPage };
});

/** An outbox item without its sequence: poison, for the queue. */
const malformed = (n: number) => {
  const { sequence: _dropped, ...item } = outboxItem(n);
  return item;
};

let traces = 0;

/** Invoke under a new sampled trace, as Lambda does; returns the result and the trace's subsegments. */
const invokeTraced = async <R>(invoke: () => Promise<R>) => {
  traces += 1;
  const root = `1-6740c8a0-${String(traces).padStart(24, '0')}`;
  const parent = `${String(traces).padStart(16, 'a')}`;
  process.env._X_AMZN_TRACE_ID = `Root=${root};Parent=${parent};Sampled=1`;
  const result = await invoke();
  const handlerSegment = await vi.waitFor(() => {
    const found = subsegments.find((s) => s.trace_id === root && s.name === '## index.handler');
    if (!found) throw new Error('no handler subsegment yet');
    return found;
  });
  const calls = () =>
    subsegments
      .filter((s) => s.trace_id === root && s.parent_id === handlerSegment.id)
      .map((s) => `${s.name} ${s.aws?.operation}`);
  return { result, handlerSegment, parent, calls };
};

const context = (functionName: string): Context => ({
  ...lambdaContext,
  functionName,
  getRemainingTimeInMillis: () => 60_000,
});

describe('Lambda entries with tracing on', () => {
  beforeEach(() => {
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterAll(() => {
    delete process.env._X_AMZN_TRACE_ID;
    daemon.close();
    endpoint.close();
  });

  it('loads the tracer after the modules, without a top-level await holding them up', async () => {
    await vi.waitFor(() => expect(tracer?.isTracingEnabled()).toBe(true));
  });

  it('relay: a handler subsegment with its response, and one per DynamoDB, EventBridge and SQS call', async () => {
    // Prepare: one publishable record, one the queue must take
    const event = streamEvent([streamRecord(0, outboxItem(1)), streamRecord(1, malformed(2))]);

    // Act
    const { result, handlerSegment, parent, calls } = await invokeTraced(() =>
      relayHandler(event, context('relay')),
    );

    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    expect(handlerSegment.parent_id).toBe(parent);
    expect(handlerSegment.annotations).toEqual({ ColdStart: expect.any(Boolean), Service: 'traced' });
    expect(handlerSegment.metadata?.traced?.['index.handler response']).toEqual(result);
    await vi.waitFor(() =>
      expect(calls()).toEqual(
        expect.arrayContaining(['EventBridge PutEvents', 'SQS SendMessageBatch', 'DynamoDB UpdateItem']),
      ),
    );
  });

  it('reconciler: the same, for a pending item republished and a malformed one parked', async () => {
    // Prepare
    pendingPage.items = [marshall(outboxItem(3)), marshall(malformed(4))];

    // Act
    const { result, handlerSegment, calls } = await invokeTraced(() =>
      reconcilerHandler({}, context('reconciler')),
    );

    // Assess
    expect(result).toMatchObject({ found: 2, republished: 1, parked: 1 });
    expect(handlerSegment.annotations).toMatchObject({ Service: 'traced' });
    await vi.waitFor(() =>
      expect(calls()).toEqual(
        expect.arrayContaining([
          'DynamoDB GetItem',
          'DynamoDB Query',
          'EventBridge PutEvents',
          'SQS SendMessageBatch',
          'DynamoDB PutItem',
          'DynamoDB UpdateItem',
        ]),
      ),
    );
  });

  it('orders API: the DynamoDB transaction traced, the response (order data) kept out of X-Ray', async () => {
    // Prepare
    const event = httpEvent('POST /orders', { body: JSON.stringify(placeOrderBody), headers: jsonHeaders });

    // Act
    const { result, handlerSegment, calls } = await invokeTraced(() =>
      ordersHandler(event, context('orders')),
    );

    // Assess
    expect(result.statusCode).toBe(201);
    expect(handlerSegment.annotations).toMatchObject({ Service: 'traced' });
    expect(handlerSegment.metadata).toBeUndefined();
    await vi.waitFor(() => expect(calls()).toContain('DynamoDB TransactWriteItems'));
  });

  it('inventory consumer: its DynamoDB calls traced, its one transaction included', async () => {
    // Act
    const { handlerSegment, calls } = await invokeTraced(() =>
      inventoryHandler(placedFixture, context('inventory')),
    );

    // Assess
    expect(handlerSegment.annotations).toMatchObject({ Service: 'traced' });
    await vi.waitFor(() =>
      expect(calls()).toEqual(
        expect.arrayContaining(['DynamoDB GetItem', 'DynamoDB BatchGetItem', 'DynamoDB TransactWriteItems']),
      ),
    );
  });
});
