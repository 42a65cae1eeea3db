import { randomUUID } from 'node:crypto';
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
  /** Absolute path of the handler module: TypeScript or JavaScript, ESM or CommonJS. */
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
  /** The event it was invoked with. */
  readonly event: unknown;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: Error;
}

export class FunctionTimeoutError extends Error {
  override readonly name = 'FunctionTimeoutError';
}

export interface LocalFunction {
  readonly definition: FunctionDefinition;
  /**
   * Synchronous invocation (stream mappings, the HTTP API, the Lambda endpoint): resolves to the
   * handler's result. Invocations wait their turn: one runs at a time, as in one Lambda
   * execution environment.
   */
  invoke(event: unknown): Promise<unknown>;
  /** End its worker. */
  stop(): Promise<void>;
}

const WORKER = fileURLToPath(new URL('./function-worker.mjs', import.meta.url));

type WorkerMessage =
  | { readonly ready: true }
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: { name: string; message: string } };

/** One worker thread running the handler module, and the invocation it is running, if any. */
interface Environment {
  readonly worker: Worker;
  /** Settles the invocation in flight; replaced per invocation. */
  settle?: (message: WorkerMessage | Error) => void;
  failure?: Error;
}

/** Start a worker with the handler module imported: resolves once it is ready to be invoked. */
const startEnvironment = async (
  definition: FunctionDefinition,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Environment> => {
  const worker = new Worker(WORKER, {
    workerData: { entry: definition.entry, exportName: definition.exportName },
    env,
    execArgv: [],
  });
  const environment: Environment = { worker };
  await new Promise<void>((ready, reject) => {
    worker.once('error', (error) =>
      reject(new Error(`${definition.path}: ${definition.entry} failed to load: ${error.message}`)),
    );
    worker.on('message', (message: WorkerMessage) => {
      if ('ready' in message) return ready();
      environment.settle?.(message);
    });
  });
  const fail = (error: Error) => {
    environment.failure ??= error;
    environment.settle?.(error);
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`${definition.path}: its worker exited (code ${code})`)));
  worker.unref();
  return environment;
};

/**
 * Load one function in a worker thread of its own: its handler module imported with the
 * function's environment (the template's, resolved, over `baseEnvironment`), as Lambda runs each
 * function in its own environment. Invocations queue: one at a time, as Lambda runs one per
 * execution environment. A timed-out invocation costs its environment, as on Lambda: the next one
 * starts in a fresh worker, never beside a handler still running.
 */
export const loadFunction = async (
  definition: FunctionDefinition,
  baseEnvironment: Readonly<Record<string, string>>,
  onInvoke?: (outcome: InvocationOutcome) => void,
): Promise<LocalFunction> => {
  const env = { ...process.env, ...baseEnvironment, ...definition.environment };
  let environment = Promise.resolve(await startEnvironment(definition, env));
  let turn: Promise<unknown> = Promise.resolve();
  let nextId = 0;

  const runOne = async (event: unknown): Promise<unknown> => {
    const current = await environment;
    if (current.failure) throw current.failure;
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
      return await new Promise<unknown>((resolveResult, reject) => {
        current.settle = (message) => {
          if (message instanceof Error) reject(message);
          else if (!('id' in message) || message.id !== id) return;
          else if (message.ok) resolveResult(message.result);
          else reject(Object.assign(new Error(message.error.message), { name: message.error.name }));
        };
        timer = setTimeout(() => {
          reject(new FunctionTimeoutError(`Task timed out after ${definition.timeoutSeconds} seconds`));
          // The handler may still run: this environment is done, the next invocation gets a new one.
          current.settle = undefined;
          environment = current.worker.terminate().then(() => startEnvironment(definition, env));
          environment.catch(() => undefined);
        }, definition.timeoutSeconds * 1000);
        current.worker.postMessage({ id, event, context });
      });
    } finally {
      clearTimeout(timer);
      current.settle = undefined;
    }
  };

  return {
    definition,
    invoke: (event) => {
      const run = turn.then(() => runOne(event));
      turn = run.catch(() => undefined);
      return run.then(
        (result) => {
          onInvoke?.({ function: definition.logicalId, path: definition.path, event, ok: true, result });
          return result;
        },
        (error: unknown) => {
          const failed = error instanceof Error ? error : new Error(String(error));
          onInvoke?.({
            function: definition.logicalId,
            path: definition.path,
            event,
            ok: false,
            error: failed,
          });
          throw failed;
        },
      );
    },
    stop: async () => {
      const current = await environment.catch(() => undefined);
      await current?.worker.terminate();
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
