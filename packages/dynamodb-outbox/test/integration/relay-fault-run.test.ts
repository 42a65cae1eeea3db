import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeliveryReceipts } from '../../src/engine/delivery-tracking';
import { PoisonQueue } from '../../src/engine/poison-queue';
import { OutboxPublisher } from '../../src/engine/publisher';
import { createRelayHandler } from '../../src/engine/relay';
import { SettledMemory } from '../../src/engine/settled-memory';
import { type RelayHandlerFactory, type RelayRig, startRelayRig } from '../support/relay-rig';

const EVENTS = 500;
const CRASH_AFTER_EVENTS = 200;
const BUDGET_MS = 90_000;
const FAULTS = { entryFailureRate: 0.2, throttleRate: 0.1, throttleBurstCalls: 3, serverErrorRate: 0.02 };

/**
 * The relay with skipAccepted disabled, for the "before" figure: the Lambda's own parts, with a
 * memory that holds one key and delivery tracking that never reports a mark, so every record
 * Lambda hands back is published again, as before the step existed.
 */
const withoutSkipping: RelayHandlerFactory = (settings, clients) => {
  const tracker = new DeliveryReceipts(DynamoDBDocumentClient.from(clients.dynamoDb), settings);
  return createRelayHandler({
    layout: settings.layout,
    publisher: new OutboxPublisher({
      eventBridge: clients.eventBridge,
      eventBusName: settings.eventBusName,
      source: settings.source,
    }),
    poisonQueue: new PoisonQueue({ sqs: clients.sqs, queueUrl: settings.poisonQueueUrl }),
    tracker: {
      markPublished: (keys, now) => tracker.markPublished(keys, now),
      markParked: (keys, now) => tracker.markParked(keys, now),
      settled: async () => ({ settled: [], unread: 0 }),
    },
    memory: new SettledMemory(1),
  });
};

interface Figures {
  events: number;
  lost: number;
  duplicates: number;
  calls: number;
  entryFailures: number;
  throttled: number;
  serverErrors: number;
}

const faultRun = async (rig: RelayRig): Promise<Figures> => {
  const writing = rig.write(EVENTS);
  await vi.waitFor(
    () => expect(rig.bus.detailEventIdCounts().size).toBeGreaterThanOrEqual(CRASH_AFTER_EVENTS),
    { timeout: BUDGET_MS, interval: 20 },
  );
  await rig.crash();
  const ids = await writing;
  await vi.waitFor(() => expect(rig.bus.detailEventIdCounts().size).toBeGreaterThanOrEqual(EVENTS), {
    timeout: BUDGET_MS,
    interval: 50,
  });
  const counts = rig.bus.detailEventIdCounts();
  return {
    events: ids.length,
    lost: ids.filter((id) => !counts.has(id)).length,
    duplicates: [...counts.values()].reduce((sum, n) => sum + n - 1, 0),
    calls: rig.bus.stats.calls,
    entryFailures: rig.bus.stats.injectedEntryFailures,
    throttled: rig.bus.stats.throttledCalls,
    serverErrors: rig.bus.stats.serverErrorCalls,
  };
};

const describeFigures = (label: string, f: Figures): string =>
  `${label}: events ${f.events}, lost ${f.lost}, duplicates ${f.duplicates} ` +
  `(${((100 * f.duplicates) / f.events).toFixed(1)}%); ${f.calls} PutEvents calls, ${f.entryFailures} failed entries, ` +
  `${f.throttled} throttled calls, ${f.serverErrors} HTTP 500 calls, 1 relay crash`;

describe('relay under faults, from its building blocks: duplicates cut at the source', () => {
  let rig: RelayRig | undefined;
  afterEach(async () => {
    await rig?.stop();
    rig = undefined;
  });

  const start = (handler?: RelayHandlerFactory) =>
    startRelayRig({
      bus: { seed: 20261122, faults: FAULTS },
      mapping: { maximumRecordAgeSeconds: 6 * 3600, retryDelayMs: 20, maxRetryDelayMs: 500 },
      ...(handler ? { handler } : {}),
    });

  it(
    `${EVENTS} events through 20% failing entries, throttle bursts, 500s and a crash: 0 lost, duplicates ≤ 2%`,
    async () => {
      // Prepare
      rig = await start();
      // Act
      const figures = await faultRun(rig);
      // Assess
      console.log(describeFigures('with skipAccepted', figures));
      expect(figures.lost).toBe(0);
      expect(figures.entryFailures).toBeGreaterThan(0);
      expect(figures.throttled).toBeGreaterThan(0);
      expect(figures.duplicates).toBeLessThanOrEqual(EVENTS * 0.02);
      expect(await rig.failureObjects()).toEqual([]);
      expect(rig.poisonMessages()).toHaveLength(0);
    },
    2 * BUDGET_MS,
  );

  it(
    'the same run without skipping (what the relay did before), for comparison',
    async () => {
      // Prepare
      rig = await start(withoutSkipping);
      // Act
      const figures = await faultRun(rig);
      // Assess
      console.log(describeFigures('without skipAccepted', figures));
      expect(figures.lost).toBe(0);
    },
    2 * BUDGET_MS,
  );
});
