import {
  CancelReplayCommand,
  DescribeArchiveCommand,
  DescribeReplayCommand,
  EventBridgeClient,
  ListRulesCommand,
  StartReplayCommand,
} from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  formatReplay,
  parseReplayTime,
  type ReplayOptions,
  replay,
  replayExitCode,
  replayName,
  replayOptions,
} from '../../../src/cli/replay';
import type { OutboxTarget, ReplaySource } from '../../../src/cli/target';
import { type LocalEventBus, startLocalEventBus } from '../../../src/local/event-bus';
import { MAXIMUM_TARGET_RETRY, type Subscription } from '../../../src/runtime/subscription';
import { ordersOutboxLayout } from '../../support/sample-table';

const eventBridge = mockClient(EventBridgeClient);

/** A consumer's subscription to the orders events: its rule is the one a local replay names. */
const inventorySubscription: Subscription = {
  name: 'inventory',
  eventPattern: { source: ['orders'], 'detail-type': ['OrderPlaced', 'OrderCancelled'] },
  retry: MAXIMUM_TARGET_RETRY,
};

const NOW = new Date('2026-11-22T12:00:00.000Z');
const ARCHIVE_ARN = 'arn:aws:events:eu-west-1:123456789012:archive/OrdersArchive1234';
const BUS_ARN = 'arn:aws:events:eu-west-1:123456789012:event-bus/OrdersBus';
const RULE_ARN = 'arn:aws:events:eu-west-1:123456789012:rule/OrdersBus/InventoryRule';

const awsTarget = (replaySource: Partial<Extract<ReplaySource, { kind: 'aws' }>> = {}): OutboxTarget => ({
  description: 'AWS stack test',
  region: 'eu-west-1',
  replay: {
    kind: 'aws',
    archiveArn: ARCHIVE_ARN,
    eventBusArn: BUS_ARN,
    rules: { Inventory: RULE_ARN },
    ...replaySource,
  },
  eventBridge: new EventBridgeClient({ region: 'eu-west-1' }),
  // Replay uses EventBridge only.
  doc: undefined as never,
  sqs: undefined as never,
  tableName: 'orders',
  layout: ordersOutboxLayout,
  eventBusName: 'OrdersBus',
  source: 'orders',
  retentionDays: 7,
  queues: [],
  notes: [],
  destroy: () => undefined,
});

const window: ReplayOptions = {
  from: new Date('2026-11-22T09:00:00Z'),
  to: new Date('2026-11-22T10:00:00Z'),
  name: 'outbox-test',
  pollIntervalMs: 1,
  now: () => NOW,
};

const archiveIs = (archive: Record<string, unknown> = {}) =>
  eventBridge.on(DescribeArchiveCommand).resolves({
    ArchiveArn: ARCHIVE_ARN,
    EventSourceArn: BUS_ARN,
    State: 'ENABLED',
    CreationTime: new Date('2026-01-01T00:00:00Z'),
    RetentionDays: 30,
    ...archive,
  });

describe('outbox replay on AWS', () => {
  beforeEach(() => {
    eventBridge.reset();
    archiveIs();
    eventBridge.on(StartReplayCommand).resolves({ State: 'STARTING' });
  });

  it('starts a replay from the archive to the bus and follows it to COMPLETED, reporting progress', async () => {
    // Prepare
    eventBridge
      .on(DescribeReplayCommand)
      .resolvesOnce({ State: 'STARTING' })
      .resolvesOnce({ State: 'RUNNING', EventLastReplayedTime: new Date('2026-11-22T09:20:00Z') })
      .resolvesOnce({ State: 'RUNNING', EventLastReplayedTime: new Date('2026-11-22T09:20:00Z') })
      .resolves({ State: 'COMPLETED', EventLastReplayedTime: new Date('2026-11-22T09:59:00Z') });
    const progress: unknown[] = [];

    // Act
    const report = await replay(awsTarget(), { ...window, onProgress: (p) => progress.push(p) });

    // Assess
    expect(eventBridge.commandCalls(StartReplayCommand)[0]?.args[0].input).toEqual({
      ReplayName: 'outbox-test',
      Description: 'dynamodb-outbox replay',
      EventSourceArn: ARCHIVE_ARN,
      EventStartTime: window.from,
      EventEndTime: window.to,
      Destination: { Arn: BUS_ARN },
    });
    expect(eventBridge.commandCalls(DescribeArchiveCommand)[0]?.args[0].input).toEqual({
      ArchiveName: 'OrdersArchive1234',
    });
    expect(progress).toEqual([
      { state: 'STARTING' },
      { state: 'RUNNING', eventLastReplayedTime: '2026-11-22T09:20:00.000Z' },
      { state: 'COMPLETED', eventLastReplayedTime: '2026-11-22T09:59:00.000Z' },
    ]);
    expect(report).toEqual({
      replayName: 'outbox-test',
      target: 'aws',
      from: '2026-11-22T09:00:00.000Z',
      to: '2026-11-22T10:00:00.000Z',
      rules: [],
      state: 'COMPLETED',
      eventLastReplayedTime: '2026-11-22T09:59:00.000Z',
      notes: [],
    });
    expect(replayExitCode(report)).toBe(0);
    expect(formatReplay(report)).toContain('rules                 every rule on the bus');
  });

  it('replays to one rule: from the stack outputs by name, else looked up on the bus, or an ARN as given', async () => {
    // Prepare
    eventBridge.on(DescribeReplayCommand).resolves({ State: 'COMPLETED' });
    eventBridge
      .on(ListRulesCommand)
      .resolvesOnce({ Rules: [{ Name: 'other', Arn: 'arn:other' }], NextToken: 'page-2' })
      .resolves({ Rules: [{ Name: 'Billing-Rule', Arn: 'arn:billing' }] });
    const filterOf = (call: number) =>
      eventBridge.commandCalls(StartReplayCommand)[call]?.args[0].input.Destination?.FilterArns;

    // Act
    await replay(awsTarget(), { ...window, rule: 'inventory' });
    await replay(awsTarget(), { ...window, rule: 'Billing-Rule' });
    await replay(awsTarget(), { ...window, rule: 'arn:given' });
    const unknown = replay(awsTarget(), { ...window, rule: 'shipping' });

    // Assess
    expect([filterOf(0), filterOf(1), filterOf(2)]).toEqual([[RULE_ARN], ['arn:billing'], ['arn:given']]);
    expect(eventBridge.commandCalls(ListRulesCommand)[1]?.args[0].input).toEqual({
      EventBusName: BUS_ARN,
      NextToken: 'page-2',
    });
    await expect(unknown).rejects.toThrow(`No rule "shipping" on ${BUS_ARN}; known: Inventory, Billing-Rule`);
  });

  it('takes the bus from the archive when the stack has no EventBusArn output', async () => {
    // Prepare
    eventBridge.on(DescribeReplayCommand).resolves({ State: 'COMPLETED' });
    archiveIs({ EventSourceArn: 'arn:aws:events:eu-west-1:123456789012:event-bus/FromArchive' });

    // Act
    await replay(awsTarget({ eventBusArn: undefined }), window);

    // Assess
    expect(eventBridge.commandCalls(StartReplayCommand)[0]?.args[0].input.Destination).toEqual({
      Arn: 'arn:aws:events:eu-west-1:123456789012:event-bus/FromArchive',
    });
  });

  it('cancels the replay on Ctrl-C and reports the state it ends in', async () => {
    // Prepare
    const controller = new AbortController();
    eventBridge.on(DescribeReplayCommand).callsFake(() => {
      if (eventBridge.commandCalls(CancelReplayCommand).length > 0) return { State: 'CANCELLING' };
      controller.abort();
      return { State: 'RUNNING' };
    });
    eventBridge.on(CancelReplayCommand).resolves({ State: 'CANCELLING' });

    // Act
    const report = await replay(awsTarget(), {
      ...window,
      pollIntervalMs: 60_000,
      signal: controller.signal,
    });

    // Assess
    expect(eventBridge.commandCalls(CancelReplayCommand)[0]?.args[0].input).toEqual({
      ReplayName: 'outbox-test',
    });
    expect(report.state).toBe('CANCELLING');
    expect(replayExitCode(report)).toBe(1);
  });

  it('stops waiting at the timeout and says the replay goes on, and how to follow or stop it', async () => {
    // Prepare
    eventBridge.on(DescribeReplayCommand).resolves({ State: 'RUNNING' });

    // Act
    const report = await replay(awsTarget(), { ...window, timeoutMs: 0 });

    // Assess
    expect(report).toMatchObject({ state: 'RUNNING', timedOut: true });
    expect(report.notes.at(-1)).toContain('aws events cancel-replay --replay-name outbox-test');
    expect(eventBridge.commandCalls(CancelReplayCommand)).toHaveLength(0);
    expect(replayExitCode(report)).toBe(1);
  });

  it('reports a failed replay with its reason', async () => {
    eventBridge.on(DescribeReplayCommand).resolves({ State: 'FAILED', StateReason: 'Archive is disabled' });
    const report = await replay(awsTarget(), window);
    expect(formatReplay(report)).toContain('state                 FAILED: Archive is disabled');
    expect(replayExitCode(report)).toBe(1);
  });

  it('warns when the range reaches before the archive, past its retention, or into the last 10 minutes', async () => {
    // Prepare
    eventBridge.on(DescribeReplayCommand).resolves({ State: 'COMPLETED' });
    archiveIs({ CreationTime: new Date('2026-11-01T00:00:00Z'), RetentionDays: 7 });

    // Act
    const report = await replay(awsTarget(), {
      ...window,
      from: new Date('2026-10-01T00:00:00Z'),
      to: new Date('2026-11-22T11:55:00Z'),
    });

    // Assess
    expect(report.notes).toEqual([
      'The archive was created at 2026-11-01T00:00:00.000Z: it holds no earlier events.',
      'The archive keeps events 7 days: older ones are gone.',
      'Events can reach the archive late (AWS recommends replaying 10 minutes after): the last 10 minutes of the range may be incomplete.',
    ]);
  });

  it('says what is missing or refused, in the operator terms', async () => {
    await expect(replay(awsTarget({ archiveArn: undefined }), window)).rejects.toThrow(
      'No archive to replay from: pass --archive-arn, or --stack with an ArchiveArn output',
    );
    archiveIs({ State: 'DISABLED' });
    await expect(replay(awsTarget(), window)).rejects.toThrow(
      'Archive OrdersArchive1234 is DISABLED, not ENABLED',
    );
    archiveIs();
    eventBridge
      .on(StartReplayCommand)
      .rejects(Object.assign(new Error('Too many replays'), { name: 'LimitExceededException' }));
    await expect(replay(awsTarget(), window)).rejects.toThrow(
      'EventBridge runs at most 10 replays at once per account and region: Too many replays',
    );
  });
});

describe('outbox replay locally', () => {
  let bus: LocalEventBus;
  const localTarget = (endpoint: string): OutboxTarget => ({
    ...awsTarget(),
    description: 'local runtime',
    // What the local runtime's outputs name: the rule's local ARN ends in the name the local bus knows it by.
    replay: {
      kind: 'local',
      endpoint,
      rules: { Inventory: 'arn:aws:events:us-east-1:000000000000:rule/inventory' },
    },
  });

  beforeAll(async () => {
    bus = await startLocalEventBus({ port: 0 });
    bus.subscribe(inventorySubscription, async () => undefined);
  });
  afterAll(() => bus.stop());

  it('asks the local bus to replay the rule its output names, and reports its counts', async () => {
    const report = await replay(localTarget(bus.endpoint), { ...window, rule: 'Inventory' });
    expect(report).toMatchObject({
      replayName: 'outbox-test',
      target: 'local',
      rules: ['inventory'],
      state: 'COMPLETED',
      events: 0,
      deliveries: 0,
    });
  });

  it('replays whole seconds: sub-second bounds take in every event of their first and last second', async () => {
    // Prepare: events at :57, three at :58, at 19:44:10 and at 19:44:11 (EventBridge's `time` has whole seconds).
    bus.clear();
    const times = ['19:43:57', '19:43:58', '19:43:58', '19:43:58', '19:44:10', '19:44:11'];
    const response = await fetch(bus.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' },
      body: JSON.stringify({
        Entries: times.map((time) => ({
          Source: 'orders',
          DetailType: 'OrderPlaced',
          Detail: JSON.stringify({ at: time }),
          Time: Date.parse(`2026-11-22T${time}Z`) / 1000,
        })),
      }),
    });
    expect(response.status).toBe(200);
    await bus.idle();

    // Act: bounds as a person copies them from a log line, milliseconds included.
    const options = replayOptions({ from: '2026-11-22T19:43:58.195Z', to: '2026-11-22T19:44:10.001Z' }, NOW);
    const report = await replay(localTarget(bus.endpoint), { ...options, name: 'outbox-seconds' });

    // Assess: --from rounded down, --to up, to the second: the :58s and the 19:44:10 one, not :57 or :11.
    expect([options.from.toISOString(), options.to.toISOString()]).toEqual([
      '2026-11-22T19:43:58.000Z',
      '2026-11-22T19:44:11.000Z',
    ]);
    expect(report).toMatchObject({ state: 'COMPLETED', events: 4, deliveries: 4 });
  });

  it('passes on what the bus refuses, and names the endpoint it cannot reach', async () => {
    await expect(replay(localTarget(bus.endpoint), { ...window, name: 'x', rule: 'nope' })).rejects.toThrow(
      'Local replay refused: No rule "nope" on this bus; rules: inventory',
    );
    const closed = await startLocalEventBus({ port: 0 });
    await closed.stop();
    await expect(replay(localTarget(closed.endpoint), window)).rejects.toThrow(
      `Cannot reach the local EventBridge at ${closed.endpoint} (ECONNREFUSED). Is \`dynamodb-outbox local\` running?`,
    );
  });
});

describe('replay arguments', () => {
  it('reads ISO times, "now" and spans ago', () => {
    expect(parseReplayTime('from', '2026-11-22T10:00Z', NOW).toISOString()).toBe('2026-11-22T10:00:00.000Z');
    expect(parseReplayTime('from', 'now', NOW)).toBe(NOW);
    expect(parseReplayTime('from', '2h', NOW).toISOString()).toBe('2026-11-22T10:00:00.000Z');
    expect(parseReplayTime('from', '-30m', NOW).toISOString()).toBe('2026-11-22T11:30:00.000Z');
    expect(parseReplayTime('from', '1d', NOW).toISOString()).toBe('2026-11-21T12:00:00.000Z');
    expect(() => parseReplayTime('to', 'yesterday', NOW)).toThrow(
      '--to takes an ISO 8601 time, "now" or a span ago (30m, 2h, 1d), got "yesterday"',
    );
  });

  it('needs both ends, in order, and a positive timeout', () => {
    expect(() => replayOptions({ from: '1h' }, NOW)).toThrow('replay needs --from <time> and --to <time>');
    expect(() => replayOptions({ from: 'now', to: '1h' }, NOW)).toThrow(/^--from \(.*\) must be before --to/);
    expect(() => replayOptions({ from: '2h', to: '1h', 'timeout-minutes': '0' }, NOW)).toThrow(
      '--timeout-minutes must be a positive number, got "0"',
    );
    expect(replayOptions({ from: '2h', to: 'now', rule: 'inventory', 'timeout-minutes': '5' }, NOW)).toEqual({
      from: new Date('2026-11-22T10:00:00Z'),
      to: NOW,
      rule: 'inventory',
      timeoutMs: 300_000,
    });
  });

  it('names a replay uniquely within what EventBridge accepts', () => {
    const names = [replayName(undefined, NOW), replayName(RULE_ARN, NOW), replayName('x'.repeat(100), NOW)];
    for (const name of names) expect(name).toMatch(/^[.\-_A-Za-z0-9]{1,64}$/);
    expect(names[0]).toMatch(/^outbox-all-20261122T120000-[0-9a-f]{6}$/);
    expect(names[1]).toMatch(/^outbox-InventoryRule-/);
    expect(replayName(undefined, NOW)).not.toBe(names[0]);
  });
});
