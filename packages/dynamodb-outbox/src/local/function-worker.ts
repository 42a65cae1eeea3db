import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import type { Context } from 'aws-lambda';

/**
 * One function of the template in its own worker thread, as Lambda gives each function its own
 * environment: its own module instances (clients, logger with its service name, settings read
 * from its environment at import) and its own process.env.
 */
interface Init {
  readonly entry: string;
  readonly exportName: string;
}

interface Invocation {
  readonly id: number;
  readonly event: unknown;
  readonly context: Omit<Context, 'getRemainingTimeInMillis' | 'done' | 'fail' | 'succeed'> & {
    deadline: number;
  };
}

const { entry, exportName } = workerData as Init;
const port = parentPort;
if (!port) throw new Error('function-worker runs as a worker thread');

// Imported once the worker runs, not awaited at the top level: the package's CommonJS build has none.
void import(pathToFileURL(entry).href).then((module: Record<string, unknown>) => {
  const handler = module[exportName];
  if (typeof handler !== 'function') throw new Error(`${entry} exports no function "${exportName}"`);

  port.on('message', async ({ id, event, context }: Invocation) => {
    const { deadline, ...rest } = context;
    const lambdaContext: Context = {
      ...rest,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
    try {
      const result: unknown = await (handler as (e: unknown, c: Context) => Promise<unknown>)(
        event,
        lambdaContext,
      );
      port.postMessage({
        id,
        ok: true,
        result: result === undefined ? null : JSON.parse(JSON.stringify(result)),
      });
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      port.postMessage({ id, ok: false, error: { name: failure.name, message: failure.message } });
    }
  });
  port.postMessage({ ready: true });
});
