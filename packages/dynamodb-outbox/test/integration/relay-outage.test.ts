import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { directoryFailureStore, redriveFailures } from '../../src/cli/redrive-failures';
import { listDirectoryObjects } from '../../src/local/failure-destination';
import { type RelayRig, startRelayRig } from '../support/relay-rig';

/*
 * Time is scaled: one "minute" of the story is one second here. The mapping is the construct's
 * (retries until the record age, 6 "hours" = 360 s), the poller's retry backoff is scaled the
 * same way. Every attempt in the outage fails; retries are bounded only by the record age.
 */
const MINUTE_MS = 1000;
const OUTAGE_MS = 5 * MINUTE_MS;
const EVENTS = 150;
const POISON_AT = 40;

describe('relay through a 5 "minute" EventBridge outage', () => {
  let rig: RelayRig;

  beforeAll(async () => {
    rig = await startRelayRig({
      bus: { seed: 11 },
      mapping: {
        maximumRecordAgeSeconds: (6 * 60 * MINUTE_MS) / 1000,
        retryDelayMs: 20,
        maxRetryDelayMs: 200,
      },
    });
  });
  afterAll(async () => {
    await rig?.stop();
  });

  it('waits the outage out: 0 records to the failure destination, every event published after, poison parked during it', async () => {
    // Prepare: the bus answers every call with HTTP 500 (InternalException).
    rig.bus.setFaults({ serverErrorRate: 1 });

    // Act: events are written during the outage; one of them can never be published.
    const ids = await rig.write(EVENTS, {
      make: (n) => (n === POISON_AT ? { eventType: 'X'.repeat(129) } : {}),
    });
    const poisonId = ids.find((id) => id.endsWith(String(POISON_AT).padStart(6, '0')));
    // The poison record is parked while the bus is still down: it does not wait for the batch.
    await vi.waitFor(() => expect(rig.poisonMessages()).toHaveLength(1), {
      timeout: OUTAGE_MS,
      interval: 20,
    });
    expect(rig.bus.stats.eventsAccepted).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    const retriesDuringOutage = rig.poller.stats.partialFailures + rig.poller.stats.failedInvocations;
    const failuresDuringOutage = await rig.failureObjects();
    rig.bus.setFaults({ serverErrorRate: 0 });
    await vi.waitFor(() => expect(rig.bus.detailEventIdCounts().size).toBe(EVENTS - 1), {
      timeout: 30_000,
      interval: 50,
    });

    // Assess
    expect(failuresDuringOutage).toEqual([]);
    expect(await rig.failureObjects()).toEqual([]);
    expect(rig.poller.stats.recordsDiscarded).toBe(0);
    // The batch failed again and again, and the mapping kept it: no retry count to run out.
    expect(retriesDuringOutage).toBeGreaterThan(1);
    const published = new Set(rig.bus.detailEventIdCounts().keys());
    expect(ids.filter((id) => id !== poisonId && !published.has(id))).toEqual([]);
    expect(published.has(poisonId ?? '')).toBe(false);
    expect(JSON.parse(rig.poisonMessages()[0]?.body ?? '{}')).toMatchObject({
      eventId: poisonId,
      errorCode: 'InvalidDetailType',
    });
    // Parked once, though the batch it sat in was retried throughout the outage.
    expect(rig.poisonMessages()).toHaveLength(1);
    console.log(
      `outage: ${EVENTS} events written during a ${OUTAGE_MS / MINUTE_MS} "minute" outage; ` +
        `${retriesDuringOutage} failed attempts during it; failure destination objects ${failuresDuringOutage.length}; ` +
        `published after it ${published.size}, poison parked ${rig.poisonMessages().length}, ` +
        `duplicates ${rig.bus.stats.duplicateDetailEventIds}`,
    );
  }, 90_000);
});

describe('relay through an outage longer than the record age', () => {
  let rig: RelayRig;

  beforeAll(async () => {
    rig = await startRelayRig({
      bus: { seed: 12 },
      mapping: { maximumRecordAgeSeconds: 2, retryDelayMs: 20, maxRetryDelayMs: 200 },
    });
  });
  afterAll(async () => {
    await rig?.stop();
  });

  it('writes the batch with its records to the failure destination; redrive --from-failures publishes it, once', async () => {
    // Prepare: the bus is down for longer than the mapping waits.
    rig.bus.setFaults({ serverErrorRate: 1 });
    const ids = await rig.write(30);
    await vi.waitFor(async () => expect((await rig.failureObjects()).length).toBeGreaterThan(0), {
      timeout: 20_000,
      interval: 100,
    });
    await vi.waitFor(() => expect(rig.poller.stats.recordsDiscarded).toBe(30), {
      timeout: 20_000,
      interval: 100,
    });
    rig.bus.setFaults({ serverErrorRate: 0 });
    const target = {
      doc: DynamoDBDocumentClient.from(rig.db.client),
      eventBridge: rig.eventBridge,
      eventBusName: rig.settings.eventBusName,
      source: rig.settings.source,
      tableName: rig.tableName,
      layout: rig.settings.layout,
      retentionDays: 7,
    };
    const store = directoryFailureStore(rig.failureDir);

    // Act
    const first = await redriveFailures(target, store);
    const second = await redriveFailures(target, store);

    // Assess
    expect(rig.bus.stats.eventsAccepted).toBe(30);
    expect(new Set(rig.bus.detailEventIdCounts().keys())).toEqual(new Set(ids));
    expect(first).toMatchObject({ republished: 30, left: 0 });
    expect(second).toMatchObject({ objects: 0, republished: 0 });
    expect(await rig.failureObjects()).toEqual([]);
    const redriven = await listDirectoryObjects(rig.failureDir, 'redriven/');
    expect(redriven.length).toBe(first.objects);
    expect(redriven[0]).toMatch(/^redriven\/aws\/lambda\/[0-9a-f-]{36}\/[^/]+\/\d{4}\/\d{2}\/\d{2}\//);
    console.log(
      `outage past the record age: ${ids.length} events discarded into ${first.objects} failure object(s); ` +
        `redrive republished ${first.republished}, a second redrive ${second.republished}`,
    );
  }, 60_000);
});
