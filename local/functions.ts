import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';

/**
 * A function of the template, run in process from its handler source: the module is imported
 * with the function's resolved environment in place, so its composition point reads the same
 * settings contract as in Lambda. Each function gets its own module instance.
 */
export type Handler = (event: unknown, context: Context) => Promise<unknown>;

export interface FunctionDefinition {
  readonly logicalId: string;
  /** Construct path, for messages. */
  readonly path: string;
  /** Handler module, relative to the app directory (template metadata). */
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
}

/** Sets `environment` for the duration of `fn`, then puts every variable back as it was. */
const withEnvironment = async <T>(
  environment: Readonly<Record<string, string>>,
  fn: () => Promise<T>,
): Promise<T> => {
  const saved = new Map(Object.keys(environment).map((name) => [name, process.env[name]]));
  Object.assign(process.env, environment);
  try {
    return await fn();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
};

const contextFor = (definition: FunctionDefinition): Context => {
  const deadline = Date.now() + definition.timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: definition.logicalId,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${definition.logicalId}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${definition.logicalId}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
};

/**
 * Load one function: import its handler module (a fresh instance, keyed by logical id) with its
 * environment set. Loads must not overlap: the caller awaits each in turn.
 */
let instances = 0;

export const loadFunction = async (
  appDir: string,
  definition: FunctionDefinition,
  onInvoke?: (outcome: InvocationOutcome) => void,
): Promise<LocalFunction> => {
  // A new module instance per load: a second runtime in the same process gets fresh clients.
  const instance = `${encodeURIComponent(definition.logicalId)}-${++instances}`;
  const url = `${pathToFileURL(resolve(appDir, definition.entry)).href}?function=${instance}`;
  const module = (await withEnvironment(definition.environment, () => import(url))) as Record<
    string,
    unknown
  >;
  const handler = module[definition.exportName];
  if (typeof handler !== 'function')
    throw new Error(`${definition.path}: ${definition.entry} exports no function "${definition.exportName}"`);
  return {
    definition,
    invoke: async (event) => {
      const context = contextFor(definition);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new FunctionTimeoutError(`Task timed out after ${definition.timeoutSeconds} seconds`)),
          definition.timeoutSeconds * 1000,
        );
      });
      try {
        const result = await Promise.race([(handler as Handler)(event, context), timeout]);
        onInvoke?.({ function: definition.logicalId, path: definition.path, ok: true, result });
        return result;
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        onInvoke?.({ function: definition.logicalId, path: definition.path, ok: false, error: failure });
        throw failure;
      } finally {
        clearTimeout(timer);
      }
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
            functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${fn.definition.logicalId}:$LATEST`,
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
