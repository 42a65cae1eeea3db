import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { arn } from './names.js';

/**
 * A function of the template, run from its handler source in a worker thread of its own, with the
 * function's resolved environment: its composition point reads the same settings contract as in
 * Lambda, and its clients, logger and settings are its own.
 */
export interface FunctionDefinition {
  readonly logicalId: string;
  /** Construct path, for messages. */
  readonly path: string;
  /** Handler module: a source relative to the app directory (template metadata), or an absolute path. */
  readonly entry: string;
  /** The export to call (the part of `Handler` after the dot). */
  readonly exportName: string;
  readonly timeoutSeconds: number;
  /** The function's environment, intrinsics resolved to local names. */
  readonly environment: Readonly<Record<string, string>>;
}

export interface InvocationOutcome {
  /** The function's logical id. */
  readonly function: string;
  /** Its construct path. */
  readonly path: string;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: Error;
}

export class FunctionTimeoutError extends Error {
  override readonly name = 'FunctionTimeoutError';
}

export interface LocalFunction {
  readonly definition: FunctionDefinition;
  /** Synchronous invocation (stream mappings, the HTTP API): resolves to the handler's result. */
  invoke(event: unknown): Promise<unknown>;
  /** End its worker. */
  stop(): Promise<void>;
}

const WORKER = fileURLToPath(new URL('./function-worker.mjs', import.meta.url));

interface Pending {
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
}

type WorkerMessage =
  | { readonly ready: true }
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: { name: string; message: string } };

/**
 * Load one function in a worker thread of its own: its handler module imported with the
 * function's environment (the template's, resolved, over `baseEnvironment`), as Lambda runs each
 * function in its own environment.
 */
export const loadFunction = async (
  appDir: string,
  definition: FunctionDefinition,
  baseEnvironment: Readonly<Record<string, string>>,
  onInvoke?: (outcome: InvocationOutcome) => void,
): Promise<LocalFunction> => {
  const worker = new Worker(WORKER, {
    workerData: { entry: resolve(appDir, definition.entry), exportName: definition.exportName },
    env: { ...process.env, ...baseEnvironment, ...definition.environment },
    execArgv: [],
  });
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let failure: Error | undefined;
  const fail = (error: Error) => {
    failure ??= error;
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };
  await new Promise<void>((ready, reject) => {
    worker.once('error', (error) =>
      reject(new Error(`${definition.path}: ${definition.entry} failed to load: ${error.message}`)),
    );
    worker.on('message', (message: WorkerMessage) => {
      if ('ready' in message) return ready();
      const waiting = pending.get(message.id);
      pending.delete(message.id);
      if (!waiting) return;
      if (message.ok) waiting.resolve(message.result);
      else waiting.reject(Object.assign(new Error(message.error.message), { name: message.error.name }));
    });
  });
  worker.on('error', (error) => fail(error));
  worker.on('exit', (code) => fail(new Error(`${definition.path}: its worker exited (code ${code})`)));
  worker.unref();

  return {
    definition,
    invoke: async (event) => {
      if (failure) throw failure;
      const id = nextId++;
      const deadline = Date.now() + definition.timeoutSeconds * 1000;
      const context = {
        callbackWaitsForEmptyEventLoop: false,
        functionName: definition.logicalId,
        functionVersion: '$LATEST',
        invokedFunctionArn: arn('lambda', `function:${definition.logicalId}`),
        memoryLimitInMB: '512',
        awsRequestId: randomUUID(),
        logGroupName: `/aws/lambda/${definition.logicalId}`,
        logStreamName: 'local',
        deadline,
      };
      let timer: NodeJS.Timeout | undefined;
      try {
        const result = await new Promise<unknown>((resolveResult, reject) => {
          pending.set(id, { resolve: resolveResult, reject });
          timer = setTimeout(() => {
            pending.delete(id);
            reject(new FunctionTimeoutError(`Task timed out after ${definition.timeoutSeconds} seconds`));
          }, definition.timeoutSeconds * 1000);
          worker.postMessage({ id, event, context });
        });
        onInvoke?.({ function: definition.logicalId, path: definition.path, ok: true, result });
        return result;
      } catch (error) {
        const failed = error instanceof Error ? error : new Error(String(error));
        onInvoke?.({ function: definition.logicalId, path: definition.path, ok: false, error: failed });
        throw failed;
      } finally {
        clearTimeout(timer);
      }
    },
    stop: async () => {
      await worker.terminate();
    },
  };
};

export interface AsyncInvokeConfig {
  /** Retries of a failed invocation, 0 to 2. @default 2 */
  readonly maximumRetryAttempts: number;
  /** @default 6 hours */
  readonly maximumEventAgeSeconds: number;
  /** Where an event goes after the last failed attempt (an invocation record, as Lambda writes it). */
  readonly onFailure?: (record: AsyncFailureRecord) => Promise<void>;
  /**
   * Delays before the retries. Lambda waits about 1 and 2 minutes
   * (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html); offline the
   * same number of retries comes sooner.
   */
  readonly retryDelaysMs: readonly number[];
}

/** Lambda's on-failure destination record for an asynchronous invocation. */
export interface AsyncFailureRecord {
  readonly version: '1.0';
  readonly timestamp: string;
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: 'RetriesExhausted' | 'EventAgeExceeded';
    readonly approximateInvokeCount: number;
  };
  readonly requestPayload: unknown;
  readonly responseContext: {
    readonly statusCode: 200;
    readonly executedVersion: '$LATEST';
    readonly functionError: 'Unhandled';
  };
  readonly responsePayload: { readonly errorType: string; readonly errorMessage: string };
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms).unref());

/**
 * Asynchronous invocation, as EventBridge and schedules invoke Lambda: accepted at once; a
 * function error is retried by Lambda's own policy (EventInvokeConfig), never by the caller's, and
 * then handed to the on-failure destination.
 */
export const invokeAsync = (fn: LocalFunction, config: AsyncInvokeConfig, event: unknown): Promise<void> => {
  const receivedAt = Date.now();
  const run = async (): Promise<void> => {
    let attempts = 0;
    let lastError: Error | undefined;
    for (;;) {
      attempts++;
      try {
        await fn.invoke(event);
        return;
      } catch (error) {
        lastError = error instanceof Error ? error : new Error(String(error));
      }
      const tooOld = Date.now() - receivedAt > config.maximumEventAgeSeconds * 1000;
      if (attempts > config.maximumRetryAttempts || tooOld) {
        await config.onFailure?.({
          version: '1.0',
          timestamp: new Date().toISOString(),
          requestContext: {
            requestId: randomUUID(),
            functionArn: arn('lambda', `function:${fn.definition.logicalId}:$LATEST`),
            condition: tooOld ? 'EventAgeExceeded' : 'RetriesExhausted',
            approximateInvokeCount: attempts,
          },
          requestPayload: event,
          responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
          responsePayload: { errorType: lastError.name, errorMessage: lastError.message },
        });
        return;
      }
      await sleep(config.retryDelaysMs[attempts - 1] ?? config.retryDelaysMs.at(-1) ?? 0);
    }
  };
  run().catch((error: unknown) =>
    console.error(`${fn.definition.path}: on-failure destination failed:`, error),
  );
  return Promise.resolve();
};
