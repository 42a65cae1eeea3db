import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type AsyncFailureRecord,
  type AsyncInvokeConfig,
  type FunctionDefinition,
  FunctionTimeoutError,
  type InvocationOutcome,
  invokeAsync,
  type LocalFunction,
  loadFunction,
} from '../../../src/local/functions';

const fixture = fileURLToPath(new URL('../../fixtures/local-functions/handler.ts', import.meta.url));

const definition = (overrides: Partial<FunctionDefinition> = {}): FunctionDefinition => ({
  logicalId: 'InventoryConsumer',
  path: 'Orders/Inventory/Consumer/Resource',
  entry: fixture,
  exportName: 'echo',
  timeoutSeconds: 5,
  environment: {},
  ...overrides,
});

class StockUnavailableError extends Error {
  override readonly name = 'StockUnavailableError';
}

/** A function that answers each attempt with `attempt(n)` (1-based) and records when it was invoked. */
const fakeFunction = (attempt: (n: number) => Promise<unknown>) => {
  const invokedAt: number[] = [];
  const events: unknown[] = [];
  const fn: LocalFunction = {
    definition: definition(),
    invoke: (event) => {
      invokedAt.push(Date.now());
      events.push(event);
      return attempt(invokedAt.length);
    },
    stop: async () => undefined,
  };
  return { fn, invokedAt, events };
};

const failing = () => Promise.reject(new StockUnavailableError('SKU-1 is out of stock'));

describe('invokeAsync', () => {
  const event = { 'detail-type': 'OrderPlaced', detail: { eventId: 'e-1' } };
  let records: AsyncFailureRecord[];
  let config: AsyncInvokeConfig;

  beforeEach(() => {
    // Fake timers: every retry delay and event age is reached by running the clock, never by waiting.
    vi.useFakeTimers({ now: new Date('2026-11-30T10:00:00.000Z') });
    records = [];
    config = {
      maximumRetryAttempts: 2,
      maximumEventAgeSeconds: 3600,
      retryDelaysMs: [0],
      onFailure: async (record) => {
        records.push(record);
      },
    };
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('accepts the event at once, before the function has finished', async () => {
    // Prepare
    const { fn, invokedAt } = fakeFunction(() => new Promise(() => undefined));

    // Act
    await invokeAsync(fn, config, event);

    // Assess
    expect(invokedAt).toHaveLength(1);
    expect(records).toEqual([]);
  });

  it('invokes a function that succeeds once, without retries or a failure record', async () => {
    // Prepare
    const { fn, events } = fakeFunction(async () => ({ ok: true }));

    // Act
    await invokeAsync(fn, config, event);
    await vi.runAllTimersAsync();

    // Assess
    expect(events).toEqual([event]);
    expect(records).toEqual([]);
  });

  it('stops retrying when an attempt succeeds', async () => {
    // Prepare
    const { fn, invokedAt } = fakeFunction((n) => (n === 1 ? failing() : Promise.resolve(null)));

    // Act
    await invokeAsync(fn, config, event);
    await vi.runAllTimersAsync();

    // Assess
    expect(invokedAt).toHaveLength(2);
    expect(records).toEqual([]);
  });

  it.each([0, 1, 2])(
    'retries a failing function exactly %i times, then sends the on-failure record (RetriesExhausted)',
    async (maximumRetryAttempts) => {
      // Prepare
      const { fn, events } = fakeFunction(failing);

      // Act
      await invokeAsync(fn, { ...config, maximumRetryAttempts }, event);
      await vi.runAllTimersAsync();

      // Assess
      expect(events).toEqual(Array(maximumRetryAttempts + 1).fill(event));
      expect(records).toEqual([
        {
          version: '1.0',
          timestamp: '2026-11-30T10:00:00.000Z',
          requestContext: {
            requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
            functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:InventoryConsumer:$LATEST',
            condition: 'RetriesExhausted',
            approximateInvokeCount: maximumRetryAttempts + 1,
          },
          requestPayload: event,
          responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
          responsePayload: { errorType: 'StockUnavailableError', errorMessage: 'SKU-1 is out of stock' },
        },
      ]);
    },
  );

  it('waits the configured delay before each retry, the last delay for any retry beyond the list', async () => {
    // Prepare
    const { fn, invokedAt } = fakeFunction(failing);
    const start = Date.now();

    // Act
    await invokeAsync(fn, { ...config, retryDelaysMs: [1000] }, event);
    await vi.runAllTimersAsync();

    // Assess
    expect(invokedAt.map((at) => at - start)).toEqual([0, 1000, 2000]);
    expect(records).toHaveLength(1);
  });

  it('gives up with EventAgeExceeded when the event is older than the maximum age after a failed attempt', async () => {
    // Prepare: the second attempt outlives the event's maximum age.
    const { fn, invokedAt } = fakeFunction((n) => {
      if (n === 2) vi.setSystemTime(Date.now() + 61_000);
      return failing();
    });

    // Act
    await invokeAsync(fn, { ...config, maximumEventAgeSeconds: 60 }, event);
    await vi.runAllTimersAsync();

    // Assess
    expect(invokedAt).toHaveLength(2);
    expect(records).toEqual([
      expect.objectContaining({
        requestContext: expect.objectContaining({ condition: 'EventAgeExceeded', approximateInvokeCount: 2 }),
        requestPayload: event,
        responsePayload: { errorType: 'StockUnavailableError', errorMessage: 'SKU-1 is out of stock' },
      }),
    ]);
  });

  it('reports an error that is not an Error as an Error with its text', async () => {
    // Prepare
    const { fn } = fakeFunction(() => Promise.reject('plain text'));

    // Act
    await invokeAsync(fn, { ...config, maximumRetryAttempts: 0 }, event);
    await vi.runAllTimersAsync();

    // Assess
    expect(records.map((record) => record.responsePayload)).toEqual([
      { errorType: 'Error', errorMessage: 'plain text' },
    ]);
  });

  it('drops the event after its retries when there is no on-failure destination', async () => {
    // Prepare
    const { fn, invokedAt } = fakeFunction(failing);
    const { onFailure: _, ...withoutDestination } = config;

    // Act
    await invokeAsync(fn, withoutDestination, event);
    await vi.runAllTimersAsync();

    // Assess
    expect(invokedAt).toHaveLength(3);
  });

  it('logs, with the function path, an on-failure destination that fails', async () => {
    // Prepare
    const { fn } = fakeFunction(failing);
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const destinationDown = new Error('queue is gone');

    // Act
    await invokeAsync(
      fn,
      { ...config, maximumRetryAttempts: 0, onFailure: () => Promise.reject(destinationDown) },
      event,
    );
    await vi.runAllTimersAsync();

    // Assess
    expect(logged).toHaveBeenCalledWith(
      'Orders/Inventory/Consumer/Resource: on-failure destination failed:',
      destinationDown,
    );
    logged.mockRestore();
  });
});

describe('loadFunction', () => {
  const loaded: LocalFunction[] = [];
  const load = async (
    overrides: Partial<FunctionDefinition>,
    onInvoke?: (outcome: InvocationOutcome) => void,
  ): Promise<LocalFunction> => {
    const fn = await loadFunction(definition(overrides), { AWS_REGION: 'eu-west-1' }, onInvoke);
    loaded.push(fn);
    return fn;
  };

  afterEach(async () => {
    await Promise.all(loaded.splice(0).map((fn) => fn.stop()));
  });

  it('runs each function in a worker thread of its own, with its own environment over the base one', async () => {
    // Prepare
    const english = await load({ logicalId: 'English', environment: { FIXTURE_GREETING: 'hello' } });
    const french = await load({
      logicalId: 'French',
      environment: { FIXTURE_GREETING: 'bonjour', AWS_REGION: 'eu-west-3' },
    });

    // Act
    const fromEnglish = (await english.invoke({ orderId: 'o-1' })) as Record<string, unknown>;
    const fromFrench = (await french.invoke({ orderId: 'o-2' })) as Record<string, unknown>;

    // Assess
    expect(fromEnglish).toMatchObject({
      event: { orderId: 'o-1' },
      greeting: 'hello',
      region: 'eu-west-1',
      functionName: 'English',
    });
    expect(fromFrench).toMatchObject({
      event: { orderId: 'o-2' },
      greeting: 'bonjour',
      region: 'eu-west-3',
      functionName: 'French',
    });
    expect(fromEnglish.threadId).not.toBe(threadId);
    expect(fromFrench.threadId).not.toBe(threadId);
    expect(fromFrench.threadId).not.toBe(fromEnglish.threadId);
    expect(fromEnglish.remainingMs).toEqual(expect.any(Number));
    expect(fromEnglish.remainingMs as number).toBeGreaterThan(0);
    expect(fromEnglish.remainingMs as number).toBeLessThanOrEqual(5000);
    expect(process.env.FIXTURE_GREETING).toBeUndefined();
  });

  it('rejects with the name and message of the error the handler threw, and reports the outcome', async () => {
    // Prepare
    const outcomes: InvocationOutcome[] = [];
    const fn = await load({ exportName: 'fail' }, (outcome) => outcomes.push(outcome));

    // Act
    const invoking = fn.invoke({ reason: 'no stock' });

    // Assess
    await expect(invoking).rejects.toMatchObject({
      name: 'OrderRejectedError',
      message: 'rejected: no stock',
    });
    expect(outcomes).toEqual([
      {
        function: 'InventoryConsumer',
        path: 'Orders/Inventory/Consumer/Resource',
        event: { reason: 'no stock' },
        ok: false,
        error: expect.objectContaining({ name: 'OrderRejectedError', message: 'rejected: no stock' }),
      },
    ]);
  });

  it('reports a successful invocation with its result', async () => {
    // Prepare
    const outcomes: InvocationOutcome[] = [];
    const fn = await load({ environment: { FIXTURE_GREETING: 'hi' } }, (outcome) => outcomes.push(outcome));

    // Act
    const result = await fn.invoke({ n: 1 });

    // Assess
    expect(outcomes).toEqual([
      {
        function: 'InventoryConsumer',
        path: 'Orders/Inventory/Consumer/Resource',
        event: { n: 1 },
        ok: true,
        result,
      },
    ]);
  });

  it("fails an invocation that outlives the function's timeout with FunctionTimeoutError", async () => {
    // Prepare
    const fn = await load({ exportName: 'hang', timeoutSeconds: 0.2 });

    // Act
    const invoking = fn.invoke({});

    // Assess
    await expect(invoking).rejects.toThrow(FunctionTimeoutError);
    await expect(invoking).rejects.toThrow('Task timed out after 0.2 seconds');
  });

  it('fails to load a module without the handler export, naming the function', async () => {
    // Act
    const loading = load({ exportName: 'missing' });

    // Assess
    await expect(loading).rejects.toThrow(`Orders/Inventory/Consumer/Resource: ${fixture} failed to load`);
    await expect(loading).rejects.toThrow('exports no function "missing"');
  });

  it('runs one invocation at a time, as one Lambda execution environment does', async () => {
    // Prepare
    const fn = await load({ exportName: 'slow' });

    // Act: three at once.
    const spans = (await Promise.all([1, 2, 3].map((n) => fn.invoke({ n })))) as Array<{
      n: number;
      startedAt: number;
      endedAt: number;
    }>;

    // Assess: in the order asked, each started after the one before ended.
    expect(spans.map((span) => span.n)).toEqual([1, 2, 3]);
    for (const [before, after] of [
      [spans[0], spans[1]],
      [spans[1], spans[2]],
    ])
      expect(after?.startedAt).toBeGreaterThanOrEqual(before?.endedAt ?? Number.POSITIVE_INFINITY);
  });

  it('never overlaps two invocations in its worker, whoever invokes it: direct calls and asynchronous ones at once', async () => {
    // Prepare: the handler marks its entry and exit in its worker; outcomes say when each ended.
    const results: Array<{ n: number; threadId: number; trail: string[] }> = [];
    const fn = await load({ exportName: 'enterExit' }, (outcome) => {
      if (outcome.ok) results.push(outcome.result as (typeof results)[number]);
    });
    const asyncConfig: AsyncInvokeConfig = {
      maximumRetryAttempts: 0,
      maximumEventAgeSeconds: 60,
      retryDelaysMs: [0],
    };

    // Act: the HTTP API and the Lambda endpoint call invoke; EventBridge rules call invokeAsync.
    await Promise.all([
      fn.invoke({ n: 1 }),
      invokeAsync(fn, asyncConfig, { n: 2 }),
      fn.invoke({ n: 3 }),
      invokeAsync(fn, asyncConfig, { n: 4 }),
    ]);
    await vi.waitFor(() => expect(results).toHaveLength(4), { timeout: 5000, interval: 10 });

    // Assess: one worker, and every entry followed by its own exit before the next entry.
    expect(new Set(results.map((r) => r.threadId)).size).toBe(1);
    const trail = results.reduce(
      (longest, r) => (r.trail.length > longest.length ? r.trail : longest),
      [] as string[],
    );
    expect(trail).toHaveLength(8);
    for (let i = 0; i < trail.length; i += 2) expect(trail[i + 1]).toBe(trail[i]?.replace('enter', 'exit'));
  });

  it('gives the invocation after a timeout a fresh worker, never one beside the handler still running', async () => {
    // Prepare
    const fn = await load({ exportName: 'hangOrEcho', timeoutSeconds: 0.3 });
    const first = (await fn.invoke({})) as { threadId: number };

    // Act
    const hung = fn.invoke({ hang: true });
    const next = fn.invoke({});

    // Assess
    await expect(hung).rejects.toThrow(FunctionTimeoutError);
    const after = (await next) as { threadId: number; hanging: number };
    expect(after.threadId).not.toBe(first.threadId);
    expect(after.hanging).toBe(0);
  });

  it('rejects invocations once its worker has stopped', async () => {
    // Prepare
    const fn = await load({});
    await fn.stop();

    // Act
    const invoking = fn.invoke({});

    // Assess
    await expect(invoking).rejects.toThrow('Orders/Inventory/Consumer/Resource: its worker exited');
  });
});
