import { createHash } from 'node:crypto';
import type { JSONValue } from '@aws-lambda-powertools/commons/types';
import { IdempotencyValidationError } from '@aws-lambda-powertools/idempotency';
import type { IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createOutboxConsumer,
  InvalidEventError,
  type OutboxDelivery,
  parseOutboxDelivery,
} from '../../../src/runtime/consumer';
import { consumerSettings } from '../../../src/runtime/consumer-settings';
import { InvalidSettingsError } from '../../../src/runtime/env-contract';
import type { EventEnvelope } from '../../../src/runtime/envelope';
import { metrics } from '../../../src/runtime/powertools';
import { MemoryPersistenceLayer } from './memory-persistence';

/** Any service's event: the consumer knows the envelope, never the payload. */
const envelope = (overrides: Partial<EventEnvelope> = {}): EventEnvelope => ({
  eventId: '01JEVENT000000000000000001',
  eventType: 'InvoiceIssued',
  aggregateType: 'Invoice',
  aggregateId: 'inv-1',
  sequence: 1,
  occurredAt: '2026-11-22T10:00:00.000Z',
  schemaVersion: 1,
  payload: { amount: 1200 },
  ...overrides,
});

/** An EventBridge delivery with envelope id `envelope-<n>`: every PutEvents gives a new one. */
const delivery = (n = 0, detail: Record<string, unknown> = envelope()) => ({
  version: '0',
  id: `envelope-${n}`,
  'detail-type': String(detail.eventType),
  source: 'billing',
  account: '123456789012',
  time: '2026-11-22T10:00:01Z',
  region: 'us-east-1',
  resources: [],
  detail,
});

describe('parseOutboxDelivery', () => {
  it('reads the source, the detail type and the envelope of a delivery', () => {
    expect(parseOutboxDelivery(delivery(0, envelope({ correlationId: 'corr-1' })))).toEqual({
      source: 'billing',
      detailType: 'InvoiceIssued',
      event: envelope({ correlationId: 'corr-1' }),
    });
  });

  it('refuses what is not an EventBridge event, naming the missing field', () => {
    const { id: _dropped, ...withoutId } = delivery();
    expect(() => parseOutboxDelivery(withoutId)).toThrow(InvalidEventError);
    expect(() => parseOutboxDelivery(withoutId)).toThrow(/^not an EventBridge event: event\.id: /);
    expect(() => parseOutboxDelivery('OrderPlaced')).toThrow(/^not an EventBridge event: /);
  });

  it('refuses an invalid envelope, naming the fields under detail but not their values', () => {
    // Prepare
    const invalid = delivery(0, { ...envelope(), sequence: 0, occurredAt: 'secret-looking-value' });
    // Act + Assess
    expect(() => parseOutboxDelivery(invalid)).toThrow(
      /^invalid detail: detail\.sequence: .*; detail\.occurredAt: /,
    );
    expect(() => parseOutboxDelivery(invalid)).not.toThrow(/secret-looking-value/);
  });

  it('refuses a detail-type that disagrees with the eventType, keeping the eventId for the log', () => {
    // Prepare
    const mismatched = { ...delivery(), 'detail-type': 'InvoicePaid' };
    // Act
    const error = (() => {
      try {
        parseOutboxDelivery(mismatched);
      } catch (caught) {
        return caught;
      }
    })();
    // Assess
    expect(error).toBeInstanceOf(InvalidEventError);
    expect(error).toMatchObject({
      message: 'detail-type InvoicePaid does not match eventType InvoiceIssued',
      eventId: '01JEVENT000000000000000001',
    });
  });
});

describe('createOutboxConsumer', () => {
  let persistence: MemoryPersistenceLayer;
  let handled: OutboxDelivery[];
  const addMetric = vi.spyOn(metrics, 'addMetric');

  /** A consumer whose effect counts its calls and returns which call it was. */
  const consumer = (handle?: (delivery: OutboxDelivery) => Promise<{ call: number }>) =>
    createOutboxConsumer({
      name: 'billing-projection',
      persistenceStore: persistence,
      idempotencyTtlSeconds: 3600,
      handle:
        handle ??
        (async (received) => {
          handled.push(received);
          return { call: handled.length };
        }),
    });

  beforeEach(() => {
    persistence = new MemoryPersistenceLayer();
    handled = [];
    addMetric.mockClear();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('applies the effect once per eventId and answers duplicates with the stored result', async () => {
    // Prepare
    const consume = consumer();
    // Act
    const results = [];
    for (let n = 0; n < 3; n++) results.push(await consume(delivery(n)));
    // Assess
    expect(handled).toEqual([{ source: 'billing', detailType: 'InvoiceIssued', event: envelope() }]);
    expect(results).toEqual([
      { call: 1, duplicate: false },
      { call: 1, duplicate: true },
      { call: 1, duplicate: true },
    ]);
  });

  it('counts every delivery in DuplicateDeliveriesSkipped: 0 for the first, 1 for each duplicate', async () => {
    // Prepare
    const consume = consumer();
    // Act
    for (let n = 0; n < 3; n++) await consume(delivery(n));
    // Assess
    expect(addMetric.mock.calls).toEqual([
      ['DuplicateDeliveriesSkipped', 'Count', 0],
      ['DuplicateDeliveriesSkipped', 'Count', 1],
      ['DuplicateDeliveriesSkipped', 'Count', 1],
    ]);
  });

  it('keys on detail.eventId under its name, not on the EventBridge envelope id', async () => {
    // Prepare
    const consume = consumer();
    const other = envelope({ eventId: '01JEVENT000000000000000002', aggregateId: 'inv-2' });
    // Act
    const first = await consume(delivery(0));
    const second = await consume(delivery(0, other));
    // Assess
    expect([first.duplicate, second.duplicate]).toEqual([false, false]);
    expect(handled.map((d) => d.event.eventId)).toEqual([envelope().eventId, other.eventId]);
    const hash = (eventId: string) => createHash('md5').update(JSON.stringify(eventId)).digest('base64');
    expect([...persistence.records.keys()]).toEqual([
      `billing-projection#${hash(envelope().eventId)}`,
      `billing-projection#${hash(other.eventId)}`,
    ]);
  });

  it('fails when an eventId comes back with a different detail, and applies nothing', async () => {
    // Prepare
    const consume = consumer();
    await consume(delivery(0));
    // Act
    const attempt = consume(delivery(1, envelope({ payload: { amount: 99_999 } })));
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(IdempotencyValidationError);
    expect(handled).toHaveLength(1);
  });

  it('rejects an invalid event before the effect and remembers nothing of it', async () => {
    // Prepare
    const consume = consumer();
    // Act
    const attempt = consume(delivery(0, { ...envelope(), eventId: '' }));
    // Assess
    await expect(attempt).rejects.toThrow(InvalidEventError);
    await expect(attempt).rejects.toThrow(/detail\.eventId/);
    expect(handled).toHaveLength(0);
    expect(persistence.records.size).toBe(0);
    expect(addMetric).not.toHaveBeenCalled();
  });

  it('rethrows a failed effect and forgets the attempt, so that the retry applies the event', async () => {
    // Prepare
    let calls = 0;
    const consume = consumer(async () => {
      calls++;
      if (calls === 1) throw new Error('throttled');
      return { call: calls };
    });
    // Act
    await expect(consume(delivery(0))).rejects.toThrow('throttled');
    const retry = await consume(delivery(1));
    // Assess
    expect(retry).toEqual({ call: 2, duplicate: false });
  });

  it('applies an event again once its idempotency record has expired', async () => {
    // Prepare
    vi.useFakeTimers({ now: new Date('2026-11-22T10:00:00.000Z'), toFake: ['Date'] });
    const consume = consumer();
    await consume(delivery(0));
    // Act
    vi.setSystemTime(new Date('2026-11-22T11:00:01.000Z'));
    const late = await consume(delivery(1));
    // Assess
    expect(late).toEqual({ call: 2, duplicate: false });
  });
});

describe('createOutboxConsumer with the environment OutboxConsumer sets', () => {
  const dynamoDb = mockClient(DynamoDBClient);
  const settings = { idempotencyTableName: 'notifier-idempotency', idempotencyTtlSeconds: 3600 };
  const handle = vi.fn(async ({ event }: OutboxDelivery) => ({ aggregateId: event.aggregateId }));

  beforeEach(() => {
    dynamoDb.reset();
    dynamoDb.on(PutItemCommand).resolves({});
    dynamoDb.on(UpdateItemCommand).resolves({});
    handle.mockClear();
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('needs only a name and a handler: table and window come from OUTBOX_CONSUMER_SETTINGS', async () => {
    // Prepare
    vi.stubEnv(consumerSettings.variable, consumerSettings.toEnv(settings)[consumerSettings.variable]);
    const consume = createOutboxConsumer({ name: 'notifier', handle });
    // Act
    const result = await consume(delivery(0));
    // Assess: the in-progress record on the table from the environment, expiring after its window.
    expect(result).toEqual({ aggregateId: 'inv-1', duplicate: false });
    const [put] = dynamoDb.commandCalls(PutItemCommand);
    expect(put?.args[0].input).toMatchObject({
      TableName: 'notifier-idempotency',
      Item: { id: { S: expect.stringMatching(/^notifier#/) }, status: { S: 'INPROGRESS' } },
    });
    const expiration = Number(put?.args[0].input.Item?.expiration?.N);
    expect(expiration - Date.now() / 1000).toBeCloseTo(3600, -1);
    expect(dynamoDb.commandCalls(UpdateItemCommand)).toHaveLength(1);
  });

  it('reads the environment once per container, on the first invocation', async () => {
    // Prepare
    const env: Record<string, string> = { ...consumerSettings.toEnv(settings) };
    const consume = createOutboxConsumer({ name: 'notifier', handle, env });
    await consume(delivery(0));
    // Act: a later change of the environment is not seen, as in Lambda, where it cannot happen.
    Object.assign(env, consumerSettings.toEnv({ ...settings, idempotencyTableName: 'other' }));
    await consume(delivery(1, envelope({ eventId: '01JEVENT000000000000000002' })));
    // Assess
    expect(dynamoDb.commandCalls(PutItemCommand).map((call) => call.args[0].input.TableName)).toEqual([
      'notifier-idempotency',
      'notifier-idempotency',
    ]);
  });

  it('uses the client it is given, with settings passed in', async () => {
    // Prepare
    const client = new DynamoDBClient({ region: 'eu-west-1' });
    const own = mockClient(client);
    own.on(PutItemCommand).resolves({});
    own.on(UpdateItemCommand).resolves({});
    const consume = createOutboxConsumer({ name: 'notifier', handle, settings, dynamoDb: client, env: {} });
    // Act
    await consume(delivery(0));
    // Assess
    expect(own.commandCalls(PutItemCommand)[0]?.args[0].input.TableName).toBe('notifier-idempotency');
    own.restore();
  });

  it.each([
    [{}, /Missing required environment variable OUTBOX_CONSUMER_SETTINGS/],
    [{ OUTBOX_CONSUMER_SETTINGS: 'not json' }, /Invalid OUTBOX_CONSUMER_SETTINGS: not JSON/],
    [
      { OUTBOX_CONSUMER_SETTINGS: JSON.stringify({ ...settings, idempotencyTtlSeconds: 0 }) },
      /Invalid OUTBOX_CONSUMER_SETTINGS: idempotencyTtlSeconds/,
    ],
  ])(
    'fails each invocation naming the variable when the environment is %j, and applies nothing',
    async (env, message) => {
      // Prepare: creating the handler reads nothing, so a module that only imports it needs no environment.
      const consume = createOutboxConsumer({ name: 'notifier', handle, env });
      // Act
      const attempt = consume(delivery(0));
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(InvalidSettingsError);
      await expect(attempt).rejects.toThrow(message);
      await expect(attempt).rejects.toThrow(/^Consumer notifier: .*OutboxConsumer sets it/);
      expect(handle).not.toHaveBeenCalled();
      expect(dynamoDb.commandCalls(PutItemCommand)).toHaveLength(0);
    },
  );
});

/**
 * A persistence layer from another copy of Powertools, as an app with its own dependency has: its
 * own `#private` state, no relation to this package's BasePersistenceLayer class.
 */
class ForeignPersistenceLayer {
  readonly #delegate = new MemoryPersistenceLayer();
  get records() {
    return this.#delegate.records;
  }
  configure(options: Parameters<MemoryPersistenceLayer['configure']>[0]) {
    this.#delegate.configure(options);
  }
  saveInProgress(data: JSONValue, remainingTimeInMillis?: number) {
    return this.#delegate.saveInProgress(data, remainingTimeInMillis);
  }
  saveSuccess(data: JSONValue, result: JSONValue) {
    return this.#delegate.saveSuccess(data, result);
  }
  deleteRecord(data: JSONValue) {
    return this.#delegate.deleteRecord(data);
  }
  getRecord(data: JSONValue) {
    return this.#delegate.getRecord(data);
  }
  processExistingRecord(record: IdempotencyRecord, data: JSONValue) {
    return this.#delegate.processExistingRecord(record, data);
  }
}

describe('createOutboxConsumer with a persistence layer of its own', () => {
  it('takes any object with the persistence methods, from any copy of Powertools, and reads no environment', async () => {
    // Prepare
    const persistence = new ForeignPersistenceLayer();
    const consume = createOutboxConsumer({
      name: 'audit',
      persistenceStore: persistence,
      idempotencyTtlSeconds: 60,
      env: {},
      handle: async ({ event }) => ({ audited: event.eventType }),
    });
    // Act
    const results = [await consume(delivery(0)), await consume(delivery(1))];
    // Assess
    expect(results).toEqual([
      { audited: 'InvoiceIssued', duplicate: false },
      { audited: 'InvoiceIssued', duplicate: true },
    ]);
    expect([...persistence.records.keys()]).toEqual([expect.stringMatching(/^audit#/)]);
  });
});
