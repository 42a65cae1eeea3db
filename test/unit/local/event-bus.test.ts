import { readFileSync } from 'node:fs';
import {
  EventBridgeClient,
  type EventBridgeClientConfig,
  ListRulesCommand,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { inventorySubscription } from '../../../lambdas/inventory/subscription';
import {
  type BusEvent,
  FaultSettingsError,
  LocalEventBus,
  type LocalEventBusOptions,
  startLocalEventBus,
} from '../../../packages/dynamodb-outbox/src/local/event-bus';
import { eventEnvelopeSchema } from '../../../packages/dynamodb-outbox/src/runtime/envelope';
import type { Subscription } from '../../../packages/dynamodb-outbox/src/runtime/subscription';

const buses: LocalEventBus[] = [];
const clients: EventBridgeClient[] = [];

const startBus = async (options: LocalEventBusOptions = {}): Promise<LocalEventBus> => {
  const bus = await startLocalEventBus({ port: 0, retryBaseDelayMs: 2, retryMaxDelayMs: 10, ...options });
  buses.push(bus);
  return bus;
};

/** The real SDK client, pointed at the local endpoint. */
const sdkClient = (bus: LocalEventBus, config: EventBridgeClientConfig = {}): EventBridgeClient => {
  const client = new EventBridgeClient({
    endpoint: bus.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    ...config,
  });
  clients.push(client);
  return client;
};

const entry = (overrides: Partial<PutEventsRequestEntry> = {}): PutEventsRequestEntry => ({
  Source: 'orders',
  DetailType: 'OrderPlaced',
  Detail: JSON.stringify({ eventId: 'evt-1', orderId: 'o-1' }),
  EventBusName: 'orders-bus',
  ...overrides,
});

const errorOf = async (
  promise: Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number } }> => {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
};

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await Promise.all(buses.splice(0).map((b) => b.stop()));
});

describe('local EventBridge: PutEvents over the wire protocol', () => {
  it('accepts entries from the real SDK client, assigns UUID event ids and keeps the events', async () => {
    // Prepare
    const bus = await startBus({ region: 'eu-west-1', account: '111122223333' });
    const client = sdkClient(bus);
    // Act
    const result = await client.send(
      new PutEventsCommand({
        Entries: [
          entry({
            TraceHeader: 'Root=1-5759e988-bd862e3fe1be46a994272793',
            Time: new Date('2026-01-02T03:04:05Z'),
          }),
          entry({ Detail: JSON.stringify({ eventId: 'evt-2' }), Resources: ['arn:aws:x'] }),
        ],
      }),
    );
    // Assess
    expect(result.FailedEntryCount).toBe(0);
    const ids = result.Entries?.map((e) => e.EventId) ?? [];
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const events = await (await fetch(`${bus.endpoint}/events`)).json();
    expect(events).toEqual([
      {
        event: {
          version: '0',
          id: ids[0],
          'detail-type': 'OrderPlaced',
          source: 'orders',
          account: '111122223333',
          time: '2026-01-02T03:04:05Z',
          region: 'eu-west-1',
          resources: [],
          detail: { eventId: 'evt-1', orderId: 'o-1' },
        },
        eventBusName: 'orders-bus',
        receivedAt: expect.any(String),
        traceHeader: 'Root=1-5759e988-bd862e3fe1be46a994272793',
      },
      expect.objectContaining({ event: expect.objectContaining({ id: ids[1], resources: ['arn:aws:x'] }) }),
    ]);
  });

  it('rejects more than 10 entries as a whole with ValidationException, storing nothing', async () => {
    const bus = await startBus();
    const error = await errorOf(
      sdkClient(bus).send(new PutEventsCommand({ Entries: Array.from({ length: 11 }, () => entry()) })),
    );
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain('Member must have length less than or equal to 10');
    expect(error.$metadata?.httpStatusCode).toBe(400);
    expect(bus.events()).toHaveLength(0);
    expect(bus.stats.rejectedCalls).toBe(1);
  });

  it('rejects a call whose entries add up to more than 1 MiB', async () => {
    const bus = await startBus();
    const half = JSON.stringify({ pad: 'x'.repeat(520 * 1024) });
    const error = await errorOf(
      sdkClient(bus).send(
        new PutEventsCommand({ Entries: [entry({ Detail: half }), entry({ Detail: half })] }),
      ),
    );
    expect(error.name).toBe('ValidationException');
    expect(error.message).toBe('Total size of the entries in the request is over the limit.');
  });

  it('accepts a call exactly at the size limit, counted as EventBridge counts entries', async () => {
    // Prepare: Source "orders" (6) + DetailType "OrderPlaced" (11) + Detail bytes = 1 MiB.
    const bus = await startBus();
    const detail = JSON.stringify({ pad: 'x'.repeat(1024 * 1024 - 17 - 10) });
    expect(Buffer.byteLength(detail) + 17).toBe(1024 * 1024);
    // Act
    const result = await sdkClient(bus).send(new PutEventsCommand({ Entries: [entry({ Detail: detail })] }));
    // Assess
    expect(result.FailedEntryCount).toBe(0);
  });

  it('reports invalid entries one by one with AWS error codes, accepting the valid ones', async () => {
    // Prepare
    const bus = await startBus();
    const entries = [
      entry({ Source: undefined }),
      entry({ DetailType: undefined }),
      entry({ Detail: undefined }),
      entry({ Detail: '[1, 2]' }),
      entry({ Detail: 'not json' }),
      entry({ DetailType: 'x'.repeat(129) }),
      entry({ Source: 'aws.ec2' }),
      entry(),
    ];
    // Act
    const result = await sdkClient(bus).send(new PutEventsCommand({ Entries: entries }));
    // Assess
    expect(result.FailedEntryCount).toBe(7);
    expect(result.Entries?.map((e) => e.ErrorCode ?? 'ok')).toEqual([
      'InvalidArgument',
      'InvalidArgument',
      'InvalidArgument',
      'MalformedDetail',
      'MalformedDetail',
      'InvalidArgument',
      'NotAuthorizedForSourceException',
      'ok',
    ]);
    expect(result.Entries?.[0]?.ErrorMessage).toBe(
      'Parameter Source is not valid. Reason: Source is a required argument.',
    );
    expect(result.Entries?.[7]?.EventId).toBeDefined();
    expect(bus.events()).toHaveLength(1);
    expect(bus.stats.failedEntries).toMatchObject({ InvalidArgument: 4, MalformedDetail: 2 });
  });

  it("knows its own bus and the account's default bus when one is configured, by name or ARN", async () => {
    const bus = await startBus({ eventBusName: 'orders-bus' });
    const result = await sdkClient(bus).send(
      new PutEventsCommand({
        Entries: [
          entry({ EventBusName: 'other-bus' }),
          entry({ EventBusName: 'arn:aws:events:us-east-1:000000000000:event-bus/orders-bus' }),
          entry({ EventBusName: 'default' }),
          entry({ EventBusName: 'arn:aws:events:us-east-1:000000000000:event-bus/default' }),
          entry({ EventBusName: undefined }),
        ],
      }),
    );
    expect(result.Entries?.map((e) => e.ErrorCode ?? 'ok')).toEqual([
      'ResourceNotFoundException',
      'ok',
      'ok',
      'ok',
      'ok',
    ]);
  });

  it('answers an unknown X-Amz-Target with UnknownOperationException', async () => {
    const bus = await startBus();
    const error = await errorOf(sdkClient(bus).send(new ListRulesCommand({})));
    expect(error.name).toBe('UnknownOperationException');
    const raw = await fetch(bus.endpoint, {
      method: 'POST',
      headers: { 'X-Amz-Target': 'AWSEvents.Nope', 'Content-Type': 'application/x-amz-json-1.1' },
      body: '{}',
    });
    expect(raw.status).toBe(400);
    expect(raw.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    expect(await raw.json()).toEqual({
      __type: 'UnknownOperationException',
      message: 'Operation AWSEvents.Nope is not supported.',
    });
  });

  it('answers a body that is not JSON with SerializationException', async () => {
    const bus = await startBus();
    const raw = await fetch(bus.endpoint, {
      method: 'POST',
      headers: { 'X-Amz-Target': 'AWSEvents.PutEvents', 'Content-Type': 'application/x-amz-json-1.1' },
      body: '{oops',
    });
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as { __type: string }).__type).toBe('SerializationException');
  });

  it('counts accepted events whose detail.eventId was seen before', async () => {
    const bus = await startBus();
    const client = sdkClient(bus);
    await client.send(new PutEventsCommand({ Entries: [entry(), entry()] }));
    await client.send(
      new PutEventsCommand({ Entries: [entry({ Detail: JSON.stringify({ eventId: 'evt-9' }) })] }),
    );
    expect(bus.stats.duplicateDetailEventIds).toBe(1);
    expect(bus.detailEventIdCounts().get('evt-1')).toBe(2);
  });
});

describe('local EventBridge: fault injection', () => {
  it('fails the configured share of entries with retryable per-entry errors', async () => {
    // Prepare
    const bus = await startBus({ seed: 42, faults: { entryFailureRate: 0.2 } });
    const client = sdkClient(bus);
    // Act
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, call) =>
        client.send(
          new PutEventsCommand({
            Entries: Array.from({ length: 10 }, (_, i) =>
              entry({ Detail: JSON.stringify({ eventId: `e-${call}-${i}` }) }),
            ),
          }),
        ),
      ),
    );
    // Assess
    const codes = results.flatMap((r) => r.Entries ?? []).map((e) => e.ErrorCode);
    const failed = codes.filter((c) => c !== undefined);
    expect(failed.length).toBeGreaterThan(150);
    expect(failed.length).toBeLessThan(250);
    expect(new Set(failed)).toEqual(new Set(['ThrottlingException', 'InternalFailure']));
    expect(results.reduce((sum, r) => sum + (r.FailedEntryCount ?? 0), 0)).toBe(failed.length);
    expect(bus.events()).toHaveLength(1000 - failed.length);
    expect(bus.stats.injectedEntryFailures).toBe(failed.length);
  });

  it('throttles whole calls in bursts, which the SDK retries through', async () => {
    // Prepare
    const bus = await startBus({ faults: { throttleRate: 1, throttleBurstCalls: 2 } });
    const noRetries = sdkClient(bus);
    // Act + Assess: the burst starts...
    const error = await errorOf(noRetries.send(new PutEventsCommand({ Entries: [entry()] })));
    expect(error.name).toBe('ThrottlingException');
    expect(error.$metadata?.httpStatusCode).toBe(400);
    // ...and runs its course after throttling is switched off.
    bus.setFaults({ throttleRate: 0 });
    const withRetries = sdkClient(bus, { maxAttempts: 3 });
    const result = await withRetries.send(new PutEventsCommand({ Entries: [entry()] }));
    expect(result.$metadata.attempts).toBe(2);
    expect(bus.stats.throttledCalls).toBe(2);
  });

  it('fails whole calls with HTTP 500 InternalException', async () => {
    const bus = await startBus({ faults: { serverErrorRate: 1 } });
    const error = await errorOf(sdkClient(bus).send(new PutEventsCommand({ Entries: [entry()] })));
    expect(error.name).toBe('InternalException');
    expect(error.$metadata?.httpStatusCode).toBe(500);
    expect(bus.stats.serverErrorCalls).toBe(1);
  });

  const putFaults = async (bus: LocalEventBus, body: string) => {
    const response = await fetch(`${bus.endpoint}/faults`, { method: 'PUT', body });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('injects the same faults for the same seed, set by PUT /faults or at start, and GET /stats prints it', async () => {
    // Prepare: one bus seeded over HTTP, one at start, one with another seed, one with none.
    const seededOverHttp = await startBus();
    const seededAtStart = await startBus({ seed: 1234, faults: { entryFailureRate: 0.3 } });
    const otherSeed = await startBus({ faults: { entryFailureRate: 0.3, seed: 4321 } });
    const unseeded = await startBus();
    const put = await putFaults(seededOverHttp, JSON.stringify({ seed: 1234, entryFailureRate: 0.3 }));
    /** Which entries failed, and with what, over 20 calls of 10 entries, one call at a time. */
    const faultsOf = async (bus: LocalEventBus): Promise<string[]> => {
      const client = sdkClient(bus);
      const outcomes: string[] = [];
      for (let call = 0; call < 20; call++) {
        const result = await client.send(
          new PutEventsCommand({
            Entries: Array.from({ length: 10 }, (_, i) =>
              entry({ Detail: JSON.stringify({ eventId: `e-${call}-${i}` }) }),
            ),
          }),
        );
        outcomes.push(...(result.Entries ?? []).map((e) => e.ErrorCode ?? 'ok'));
      }
      return outcomes;
    };
    const statsOf = async (bus: LocalEventBus) =>
      (await (await fetch(`${bus.endpoint}/stats`)).json()) as { seed?: unknown };

    // Act
    const [overHttp, atStart, other] = [
      await faultsOf(seededOverHttp),
      await faultsOf(seededAtStart),
      await faultsOf(otherSeed),
    ];

    // Assess
    expect(put).toMatchObject({ status: 200, body: { seed: 1234, entryFailureRate: 0.3 } });
    expect(overHttp.filter((o) => o !== 'ok').length).toBeGreaterThan(20);
    expect(atStart).toEqual(overHttp);
    expect(other).not.toEqual(overHttp);
    expect((await statsOf(seededOverHttp)).seed).toBe(1234);
    expect((await statsOf(otherSeed)).seed).toBe(4321);
    // Without a seed the bus draws one, and says which: a run is reproducible after the fact.
    const drawn = (await statsOf(unseeded)).seed;
    expect(Number.isInteger(drawn)).toBe(true);
    expect(unseeded.faults.seed).toBe(drawn);
  });

  it('reads and changes fault settings over HTTP', async () => {
    // Prepare
    const bus = await startBus();

    // Act
    const put = await putFaults(bus, JSON.stringify({ entryFailureRate: 0.5, shuffleDeliveryMs: 60_000 }));
    const read = (await (await fetch(`${bus.endpoint}/faults`)).json()) as Record<string, unknown>;

    // Assess
    expect(put.status).toBe(200);
    expect(put.body).toEqual(read);
    expect(read).toMatchObject({ entryFailureRate: 0.5, shuffleDeliveryMs: 60_000, throttleRate: 0 });
    expect(bus.faults.entryFailureRate).toBe(0.5);
  });

  it.each([
    [
      'an unknown key',
      { entryFailureRate: 0.5, throttleBurst: 3 },
      {
        field: 'throttleBurst',
        message: expect.stringMatching(/^unknown fault setting "throttleBurst"; the settings are /),
      },
    ],
    [
      'a rate above 1',
      { entryFailureRate: 0.5, throttleRate: 2 },
      { field: 'throttleRate', message: 'throttleRate must be between 0 and 1' },
    ],
    [
      'a delay over a minute',
      { entryFailureRate: 0.5, shuffleDeliveryMs: 60_001 },
      { field: 'shuffleDeliveryMs', message: 'shuffleDeliveryMs must be from 0 to 60000 ms' },
    ],
    [
      'a body that is not an object',
      [{ entryFailureRate: 0.5 }],
      { message: 'fault settings must be a JSON object of settings' },
    ],
  ])('answers 400 for %s, naming it, and changes nothing', async (_case, changes, error) => {
    // Prepare
    const bus = await startBus({ faults: { throttleRate: 0.1 } });
    const before = bus.faults;

    // Act
    const response = await putFaults(bus, JSON.stringify(changes));

    // Assess
    expect(response).toEqual({ status: 400, body: error });
    expect(bus.faults).toEqual(before);
  });

  it('answers 400 for a body that is not JSON', async () => {
    const bus = await startBus();
    expect(await putFaults(bus, '{"throttleRate": ')).toEqual({
      status: 400,
      body: { message: 'The body must be a JSON object of fault settings' },
    });
  });

  it('refuses bad settings from code too: at start-up and in setFaults', async () => {
    // Prepare
    const bus = await startBus();

    // Act + Assess
    expect(() => new LocalEventBus({ faults: { serverErrorRate: -1 } })).toThrow(
      new FaultSettingsError('serverErrorRate must be between 0 and 1', 'serverErrorRate'),
    );
    expect(() => bus.setFaults({ maxDeliveryCopies: 100 })).toThrow(FaultSettingsError);
    expect(bus.faults.maxDeliveryCopies).toBe(2);
  });
});

describe('local EventBridge: rules and targets', () => {
  const quick = (retry: Subscription['retry']): Subscription => ({
    ...inventorySubscription('orders'),
    retry,
  });

  it('delivers matching events to the subscription target only', async () => {
    // Prepare
    const bus = await startBus();
    const received: BusEvent[] = [];
    bus.subscribe(inventorySubscription('orders'), async (event) => {
      received.push(event);
    });
    // Act
    await sdkClient(bus).send(
      new PutEventsCommand({
        Entries: [entry(), entry({ DetailType: 'OrderShipped' }), entry({ Source: 'payments' })],
      }),
    );
    await bus.idle();
    // Assess
    expect(received.map((e) => e['detail-type'])).toEqual(['OrderPlaced']);
    expect(received[0]?.id).toBe(bus.events()[0]?.event.id);
  });

  it('retries a failing target with backoff until it succeeds', async () => {
    const bus = await startBus();
    let attempts = 0;
    bus.subscribe(quick({ maximumRetryAttempts: 5, maximumEventAgeSeconds: 60 }), async () => {
      attempts++;
      if (attempts < 3) throw new Error('busy');
    });
    await sdkClient(bus).send(new PutEventsCommand({ Entries: [entry()] }));
    await bus.idle();
    expect(attempts).toBe(3);
    expect(bus.deadLetters).toHaveLength(0);
  });

  it('dead-letters after the retry attempts with the EventBridge DLQ attributes', async () => {
    const bus = await startBus();
    const onDeadLetter = vi.fn();
    const busWithHook = await startBus({ onDeadLetter });
    for (const b of [bus, busWithHook])
      b.subscribe(quick({ maximumRetryAttempts: 2, maximumEventAgeSeconds: 60 }), async () => {
        throw new TypeError('handler broke');
      });
    await sdkClient(busWithHook).send(new PutEventsCommand({ Entries: [entry()] }));
    await busWithHook.idle();
    expect(busWithHook.deadLetters).toHaveLength(1);
    expect(busWithHook.deadLetters[0]).toMatchObject({
      subscription: 'inventory',
      event: { 'detail-type': 'OrderPlaced' },
      attributes: {
        ERROR_CODE: 'TypeError',
        ERROR_MESSAGE: 'handler broke',
        EXHAUSTED_RETRY_CONDITION: 'MaximumRetryAttemptsExhausted',
        RETRY_ATTEMPTS: 2,
        RULE_ARN: 'arn:aws:events:us-east-1:000000000000:rule/inventory',
      },
    });
    expect(onDeadLetter).toHaveBeenCalledOnce();
    expect(busWithHook.stats.deliveries).toBe(3);
  });

  it('dead-letters an event older than the maximum event age', async () => {
    const bus = await startBus({ retryBaseDelayMs: 50, retryMaxDelayMs: 50 });
    bus.subscribe(quick({ maximumRetryAttempts: 185, maximumEventAgeSeconds: 0.1 }), async () => {
      throw new Error('down');
    });
    await sdkClient(bus).send(new PutEventsCommand({ Entries: [entry()] }));
    await bus.idle();
    expect(bus.deadLetters[0]?.attributes.EXHAUSTED_RETRY_CONDITION).toBe('MaximumEventAgeExceeded');
  });

  it('delivers duplicates and shuffles deliveries when told to', async () => {
    // Prepare
    const bus = await startBus({
      seed: 7,
      faults: { duplicateDeliveryRate: 1, maxDeliveryCopies: 3, shuffleDeliveryMs: 40 },
    });
    const received: string[] = [];
    bus.subscribe(inventorySubscription('orders'), async (event) => {
      received.push(String(event.detail.eventId));
    });
    const sent = Array.from({ length: 20 }, (_, i) => `evt-${i}`);
    // Act
    for (let i = 0; i < sent.length; i += 10)
      await sdkClient(bus).send(
        new PutEventsCommand({
          Entries: sent.slice(i, i + 10).map((id) => entry({ Detail: JSON.stringify({ eventId: id }) })),
        }),
      );
    await bus.idle();
    // Assess
    const counts = new Map<string, number>();
    for (const id of received) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual([...sent].sort());
    for (const count of counts.values()) expect([2, 3]).toContain(count);
    expect(bus.stats.duplicateDeliveries).toBe(received.length - sent.length);
    expect([...new Set(received)]).not.toEqual(sent);
  });
});

describe('local EventBridge: inspection endpoints', () => {
  it('keeps at most maxStoredEvents, dropping the oldest, while still counting every event', async () => {
    const bus = await startBus({ maxStoredEvents: 2 });
    const ids = ['a', 'b', 'c'];
    await sdkClient(bus).send(
      new PutEventsCommand({ Entries: ids.map((id) => entry({ Detail: JSON.stringify({ eventId: id }) })) }),
    );
    expect(bus.events().map((e) => e.event.detail.eventId)).toEqual(['b', 'c']);
    expect(bus.stats.eventsAccepted).toBe(3);
    expect(bus.detailEventIdCounts().size).toBe(3);
  });

  it('serves /stats and clears events with DELETE /events', async () => {
    const bus = await startBus();
    await sdkClient(bus).send(new PutEventsCommand({ Entries: [entry()] }));
    const stats = (await (await fetch(`${bus.endpoint}/stats`)).json()) as { eventsAccepted: number };
    expect(stats.eventsAccepted).toBe(1);
    const cleared = await fetch(`${bus.endpoint}/events`, { method: 'DELETE' });
    expect(cleared.status).toBe(204);
    expect(await (await fetch(`${bus.endpoint}/events`)).json()).toEqual([]);
    expect(bus.stats.eventsAccepted).toBe(0);
    expect((await fetch(`${bus.endpoint}/nope`)).status).toBe(404);
  });

  it('answers GET /events in the shape docs/offline.md shows', async () => {
    // Prepare: the documented example, and the same event put on a live bus
    const [documented] = z.array(acceptedEventSchema).parse(documentedEvents());
    if (documented === undefined) throw new Error('docs/offline.md shows no event');
    const bus = await startBus();
    await sdkClient(bus).send(
      new PutEventsCommand({
        Entries: [
          {
            Source: documented.event.source,
            DetailType: documented.event['detail-type'],
            Detail: JSON.stringify(documented.event.detail),
            EventBusName: documented.eventBusName,
          },
        ],
      }),
    );

    // Act
    const served = await (await fetch(`${bus.endpoint}/events`)).json();

    // Assess: same keys at every level, same content where it is not per-call
    const [actual] = z.array(acceptedEventSchema).parse(served);
    expect(actual).toMatchObject({
      eventBusName: documented.eventBusName,
      event: { source: documented.event.source, detail: documented.event.detail },
    });
  });
});

/** What `GET /events` answers for each accepted entry; strict, so an undocumented key fails. */
const acceptedEventSchema = z.strictObject({
  event: z.strictObject({
    version: z.literal('0'),
    id: z.uuid(),
    'detail-type': z.string(),
    source: z.string(),
    account: z.string().regex(/^\d{12}$/),
    time: z.iso.datetime(),
    region: z.string(),
    resources: z.array(z.string()),
    // The outbox's envelope: the documented detail is an event the relay could have published.
    detail: eventEnvelopeSchema,
  }),
  eventBusName: z.string(),
  receivedAt: z.iso.datetime(),
  traceHeader: z.string().optional(),
});

/** The json block of docs/offline.md that follows its description of `GET /events`. */
const documentedEvents = (): unknown => {
  const docs = readFileSync(new URL('../../../docs/offline.md', import.meta.url), 'utf8');
  const from = docs.indexOf('`GET /events` answers an array');
  const block = /```json\n([\s\S]*?)\n```/.exec(docs.slice(from));
  if (from < 0 || block?.[1] === undefined) throw new Error('docs/offline.md has no GET /events example');
  return JSON.parse(block[1]);
};

describe('local EventBridge: replay', () => {
  const subscription = (name: string): Subscription => ({ ...inventorySubscription('orders'), name });

  /** A bus with two rules on the order events, and the events each received. */
  const busWithRules = async () => {
    const bus = await startBus();
    const received: Record<string, BusEvent[]> = { inventory: [], billing: [] };
    for (const name of Object.keys(received))
      bus.subscribe(subscription(name), async (event) => {
        received[name]?.push(event);
      });
    return { bus, received };
  };

  const at = (time: string, eventId: string) =>
    entry({ Time: new Date(time), Detail: JSON.stringify({ eventId }) });

  it('delivers the events of [from, to) again, marked with replay-name, and keeps the history as it was', async () => {
    // Prepare
    const { bus, received } = await busWithRules();
    await sdkClient(bus).send(
      new PutEventsCommand({
        Entries: [
          at('2026-11-22T09:59:59Z', 'before'),
          at('2026-11-22T10:00:00Z', 'first'),
          at('2026-11-22T10:04:59Z', 'last'),
          at('2026-11-22T10:05:00Z', 'at-end'),
        ],
      }),
    );
    await bus.idle();

    // Act
    const result = bus.replay({ from: '2026-11-22T10:00:00Z', to: '2026-11-22T10:05:00Z', name: 'fix-1' });
    await bus.idle();

    // Assess
    expect(result).toEqual({
      replayName: 'fix-1',
      from: '2026-11-22T10:00:00.000Z',
      to: '2026-11-22T10:05:00.000Z',
      rules: ['inventory', 'billing'],
      events: 2,
      deliveries: 4,
    });
    const replayed = (received.inventory ?? []).filter((e) => e['replay-name'] !== undefined);
    expect(replayed.map((e) => [e.detail.eventId, e['replay-name']])).toEqual([
      ['first', 'fix-1'],
      ['last', 'fix-1'],
    ]);
    // Same event otherwise: id, time and detail are the archived ones.
    const { 'replay-name': _name, ...original } = replayed[0] as BusEvent;
    expect(original).toEqual(bus.events()[1]?.event);
    expect(bus.events()).toHaveLength(4);
    expect(bus.stats).toMatchObject({ replays: 1, eventsReplayed: 2, eventsAccepted: 4 });
  });

  it('replays to the named rule only, over HTTP, and refuses what StartReplay would', async () => {
    // Prepare
    const { bus, received } = await busWithRules();
    await sdkClient(bus).send(new PutEventsCommand({ Entries: [at('2026-11-22T10:00:00Z', 'e1')] }));
    await bus.idle();
    const replay = (body: unknown) =>
      fetch(`${bus.endpoint}/replay`, { method: 'POST', body: JSON.stringify(body) });
    const window = { from: '2026-11-22T00:00:00Z', to: '2026-11-23T00:00:00Z' };

    // Act
    const ok = await replay({ ...window, rule: 'billing', name: 'billing-only' });
    await bus.idle();
    const refused = await Promise.all([
      replay({ ...window, name: 'billing-only' }),
      replay({ ...window, rule: 'shipping' }),
      replay({ from: window.to, to: window.from }),
      replay({ ...window, name: 'no spaces' }),
      replay({ from: 'yesterday', to: window.to }),
    ]);

    // Assess
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ rules: ['billing'], events: 1, deliveries: 1 });
    expect(received.billing?.map((e) => e['replay-name'])).toEqual([undefined, 'billing-only']);
    expect(received.inventory?.map((e) => e['replay-name'])).toEqual([undefined]);
    expect(refused.map((r) => r.status)).toEqual([400, 400, 400, 400, 400]);
    expect(
      await Promise.all(refused.map(async (r) => ((await r.json()) as { message: string }).message)),
    ).toEqual([
      'Replay billing-only already exists: a replay name is used once',
      'No rule "shipping" on this bus; rules: inventory, billing',
      '"from" must be before "to"',
      'Replay name "no spaces" must be 1 to 64 characters of letters, digits, ".", "-" and "_"',
      '"from" is not a time: yesterday',
    ]);
  });

  it('replays to a rule by its name, every target of it, or to one target as `<rule>/<target id>`', async () => {
    // Prepare: as the runtime names subscriptions: a rule with two targets, each `<rule>/<target id>`; a rule with one, by its name.
    const bus = await startBus();
    for (const name of ['AuditRule/Target0', 'AuditRule/Target1', 'InventoryRule'])
      bus.subscribe(subscription(name), async () => undefined);
    await sdkClient(bus).send(new PutEventsCommand({ Entries: [at('2026-11-22T10:00:00Z', 'e1')] }));
    await bus.idle();
    const window = { from: '2026-11-22T00:00:00Z', to: '2026-11-23T00:00:00Z' };

    // Act
    const rulesOf = (rule: string) => bus.replay({ ...window, rule }).rules;

    // Assess
    expect(rulesOf('AuditRule')).toEqual(['AuditRule/Target0', 'AuditRule/Target1']);
    expect(rulesOf('AuditRule/Target1')).toEqual(['AuditRule/Target1']);
    expect(rulesOf('InventoryRule')).toEqual(['InventoryRule']);
    expect(rulesOf('InventoryRule/Target0')).toEqual(['InventoryRule']);
    expect(() => rulesOf('Audit')).toThrow('No rule "Audit" on this bus');
  });

  it('lets a rule leave replayed events out, as live-only rules do with replay-name exists false', async () => {
    // Prepare
    const bus = await startBus();
    const live: BusEvent[] = [];
    bus.subscribe(
      {
        ...subscription('live-only'),
        eventPattern: { source: ['orders'], 'replay-name': [{ exists: false }] },
      },
      async (event) => {
        live.push(event);
      },
    );
    await sdkClient(bus).send(new PutEventsCommand({ Entries: [at('2026-11-22T10:00:00Z', 'e1')] }));

    // Act
    const result = bus.replay({ from: '2026-11-22T00:00:00Z', to: '2026-11-23T00:00:00Z' });
    await bus.idle();

    // Assess
    expect(result).toMatchObject({ events: 1, deliveries: 0 });
    expect(result.replayName).toMatch(/^replay-\d+-[0-9a-f]{8}$/);
    expect(live).toHaveLength(1);
  });
});
