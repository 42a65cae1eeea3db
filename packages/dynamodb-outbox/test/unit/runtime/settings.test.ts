import { afterEach, describe, expect, it, vi } from 'vitest';
import { TIME_ORDERED_TABLE_LAYOUT } from '../../../src/runtime/layout';
import {
  consumerSettings,
  type EnvContract,
  InvalidSettingsError,
  reconcilerSettings,
  relaySettings,
  writerSettings,
} from '../../../src/runtime/settings';
import type * as z from '../../../src/runtime/zod';
import { ORDERS_LAYOUT, OTHER_LAYOUT } from '../../support/unit';

const relay = {
  eventBusName: 'orders-bus',
  source: 'orders',
  poisonQueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/relay-poison',
  putEventsMaxBytes: 262_144,
  tableName: 'orders',
  layout: ORDERS_LAYOUT,
  deliveryTracking: true,
  retentionDays: 7,
};

const reconciler = {
  eventBusName: 'orders-bus',
  source: 'orders',
  poisonQueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/relay-poison',
  putEventsMaxBytes: 262_144,
  tableName: 'outbox',
  layout: TIME_ORDERED_TABLE_LAYOUT,
  retentionDays: 7,
  thresholdSeconds: 900,
  maxItemsPerRun: 5000,
};

const writer = { tableName: 'service', layout: OTHER_LAYOUT, deliveryTracking: false, retentionDays: 30 };

const consumer = { idempotencyTableName: 'inventory-idempotency', idempotencyTtlSeconds: 194_400 };

/** Any of the four contracts, each with its own schema. */
type AnyContract = EnvContract<z.ZodMiniType>;

const contracts: [string, AnyContract, Record<string, unknown>][] = [
  ['OUTBOX_RELAY_SETTINGS', relaySettings, relay],
  ['OUTBOX_RECONCILER_SETTINGS', reconcilerSettings, reconciler],
  ['OUTBOX_WRITER_SETTINGS', writerSettings, writer],
  ['OUTBOX_CONSUMER_SETTINGS', consumerSettings, consumer],
];

/** The same settings, written to the environment by hand (as a wrong construct or operator would). */
const rawEnv = (variable: string, settings: unknown) => ({ [variable]: JSON.stringify(settings) });

describe('settings contracts', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it.each(contracts)(
    '%s: one variable of JSON that reads back as the settings written',
    (variable, contract, settings) => {
      // Act
      const env = contract.toEnv(settings);
      // Assess
      expect(contract.variable).toBe(variable);
      expect(Object.keys(env)).toEqual([variable]);
      expect(JSON.parse(env[variable] ?? '')).toEqual(settings);
      expect(contract.fromEnv(env)).toEqual(settings);
    },
  );

  it.each(contracts)('%s: names the variable when it is missing or blank', (variable, contract) => {
    expect(() => contract.fromEnv({})).toThrow(`Missing required environment variable ${variable}`);
    expect(() => contract.fromEnv({ [variable]: '' })).toThrow(
      `Missing required environment variable ${variable}`,
    );
    expect(() => contract.fromEnv({ [variable]: '{"tableName":' })).toThrow(`Invalid ${variable}: not JSON`);
    expect(() => contract.fromEnv({})).toThrow(InvalidSettingsError);
  });

  it('reads the process environment by default', () => {
    // Prepare
    vi.stubEnv('OUTBOX_CONSUMER_SETTINGS', JSON.stringify(consumer));
    // Act + Assess
    expect(consumerSettings.fromEnv()).toEqual(consumer);
  });

  it.each([
    [
      'OUTBOX_RELAY_SETTINGS',
      relaySettings,
      relay,
      { retentionDays: 0 },
      'retentionDays: retentionDays must be from 1 to 3650',
    ],
    [
      'OUTBOX_RELAY_SETTINGS',
      relaySettings,
      relay,
      { retentionDays: 3651 },
      'retentionDays: retentionDays must be from 1 to 3650',
    ],
    [
      'OUTBOX_RELAY_SETTINGS',
      relaySettings,
      relay,
      { retentionDays: 1.5 },
      'retentionDays: retentionDays must be a whole number of days',
    ],
    [
      'OUTBOX_RELAY_SETTINGS',
      relaySettings,
      relay,
      { source: 'aws.orders' },
      'source: source must not start with "aws." (reserved)',
    ],
    [
      'OUTBOX_RELAY_SETTINGS',
      relaySettings,
      relay,
      { source: '' },
      'source: source must be 1 to 256 characters',
    ],
    [
      'OUTBOX_RELAY_SETTINGS',
      relaySettings,
      relay,
      { source: 's'.repeat(257) },
      'source: source must be 1 to 256 characters',
    ],
    [
      'OUTBOX_RELAY_SETTINGS',
      relaySettings,
      relay,
      { eventBusName: '' },
      'eventBusName: eventBusName is required',
    ],
    [
      'OUTBOX_RELAY_SETTINGS',
      relaySettings,
      relay,
      { poisonQueueUrl: '' },
      'poisonQueueUrl: poisonQueueUrl is required',
    ],
    [
      'OUTBOX_RELAY_SETTINGS',
      relaySettings,
      relay,
      { putEventsMaxBytes: 0 },
      'putEventsMaxBytes: putEventsMaxBytes must be from 1 to 1048576',
    ],
    [
      'OUTBOX_RELAY_SETTINGS',
      relaySettings,
      relay,
      { putEventsMaxBytes: 1_048_577 },
      'putEventsMaxBytes: putEventsMaxBytes must be from 1 to 1048576',
    ],
    [
      'OUTBOX_RELAY_SETTINGS',
      relaySettings,
      relay,
      { layout: { ...ORDERS_LAYOUT, shardCount: 0 } },
      'layout.shardCount: shardCount must be from 1 to 100',
    ],
    [
      'OUTBOX_RELAY_SETTINGS',
      relaySettings,
      relay,
      { layout: { ...ORDERS_LAYOUT, sortKey: '' } },
      'layout.sortKey: attribute names must not be empty',
    ],
    [
      'OUTBOX_RECONCILER_SETTINGS',
      reconcilerSettings,
      reconciler,
      { thresholdSeconds: 59 },
      'thresholdSeconds: thresholdSeconds must be at least 60',
    ],
    [
      'OUTBOX_RECONCILER_SETTINGS',
      reconcilerSettings,
      reconciler,
      { maxItemsPerRun: 0 },
      'maxItemsPerRun: maxItemsPerRun must be a positive integer',
    ],
    [
      'OUTBOX_RECONCILER_SETTINGS',
      reconcilerSettings,
      reconciler,
      { tableName: '' },
      'tableName: tableName is required',
    ],
    [
      'OUTBOX_WRITER_SETTINGS',
      writerSettings,
      writer,
      { retentionDays: 0 },
      'retentionDays: retentionDays must be from 1 to 3650',
    ],
    ['OUTBOX_WRITER_SETTINGS', writerSettings, writer, { tableName: '' }, 'tableName: tableName is required'],
    [
      'OUTBOX_CONSUMER_SETTINGS',
      consumerSettings,
      consumer,
      { idempotencyTtlSeconds: 0 },
      'idempotencyTtlSeconds: idempotencyTtlSeconds must be a positive number of seconds',
    ],
    [
      'OUTBOX_CONSUMER_SETTINGS',
      consumerSettings,
      consumer,
      { idempotencyTableName: '' },
      'idempotencyTableName: idempotencyTableName is required',
    ],
  ] as [string, AnyContract, Record<string, unknown>, Record<string, unknown>, string][])(
    '%s: refuses %j with the same message when written and when read',
    (variable, contract, base, patch, message) => {
      // Prepare
      const settings = { ...base, ...patch };
      const expected = `Invalid ${variable}: ${message}`;
      // Act + Assess
      expect(() => contract.toEnv(settings)).toThrow(expected);
      expect(() => contract.fromEnv(rawEnv(variable, settings))).toThrow(expected);
    },
  );

  it.each([
    [relaySettings, relay, { retentionDays: 1 }],
    [relaySettings, relay, { retentionDays: 3650 }],
    [relaySettings, relay, { putEventsMaxBytes: 1_048_576 }],
    [relaySettings, relay, { putEventsMaxBytes: 1 }],
    [relaySettings, relay, { source: 's'.repeat(256) }],
    [reconcilerSettings, reconciler, { thresholdSeconds: 60 }],
    [reconcilerSettings, reconciler, { maxItemsPerRun: 1 }],
    [consumerSettings, consumer, { idempotencyTtlSeconds: 1 }],
  ] as [AnyContract, Record<string, unknown>, Record<string, unknown>][])(
    'accepts the bounds themselves both ways: %#',
    (contract, base, patch) => {
      const settings = { ...base, ...patch };
      expect(contract.fromEnv(contract.toEnv(settings))).toEqual(settings);
      expect(contract.fromEnv(rawEnv(contract.variable, settings))).toEqual(settings);
    },
  );

  it('names a missing setting', () => {
    // Prepare
    const { tableName: _dropped, ...withoutTable } = writer;
    // Act + Assess
    expect(() => writerSettings.fromEnv(rawEnv('OUTBOX_WRITER_SETTINGS', withoutTable))).toThrow(
      /^Invalid OUTBOX_WRITER_SETTINGS: tableName: /,
    );
    expect(() => writerSettings.toEnv(withoutTable as typeof writer)).toThrow(
      /^Invalid OUTBOX_WRITER_SETTINGS: tableName: /,
    );
  });
});
