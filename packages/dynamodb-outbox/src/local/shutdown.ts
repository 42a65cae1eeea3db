/**
 * How `dynamodb-outbox local` ends: on a signal, or when a part it cannot run without fails.
 * Every way stops the runtime once, with a deadline. The end of the process that started it is
 * not one: started in the background from a script, it keeps serving after the script exits.
 */
export interface ShutdownOptions {
  /** Stops the runtime; called once. */
  readonly stop: () => Promise<void>;
  readonly exit: (code: number) => void;
  readonly log?: (line: string) => void;
  readonly error?: (line: string) => void;
  /** A stop that takes longer is abandoned with exit status 1. @default 10_000 */
  readonly deadlineMs?: number;
  /**
   * The same signal again within this time is a copy, not a second request: a signal to the
   * process group reaches both npm and this process, and npm forwards its copy. @default 1000
   */
  readonly duplicateWindowMs?: number;
  readonly now?: () => number;
}

export interface Shutdown {
  /** SIGINT, SIGTERM or SIGHUP: stop, exit 0. A second, distinct one forces exit 130. */
  onSignal(signal: NodeJS.Signals): void;
  /** Stop because `reason` (one line, printed), and exit with `code`. */
  stopFor(reason: string, code: number): void;
}

export const createShutdown = (options: ShutdownOptions): Shutdown => {
  const { stop, exit, deadlineMs = 10_000, duplicateWindowMs = 1000 } = options;
  const log = options.log ?? ((line) => console.log(line));
  const error = options.error ?? ((line) => console.error(line));
  const now = options.now ?? Date.now;
  let first: { signal?: NodeJS.Signals; at: number } | undefined;

  const begin = (code: number, signal?: NodeJS.Signals): void => {
    first = { ...(signal ? { signal } : {}), at: now() };
    const deadline = setTimeout(() => {
      error(`Not stopped after ${deadlineMs / 1000} s: exiting anyway.`);
      exit(1);
    }, deadlineMs);
    deadline.unref();
    stop().then(
      () => exit(code),
      (failure: unknown) => {
        error(`Stopped with errors: ${failure instanceof Error ? failure.message : String(failure)}`);
        exit(1);
      },
    );
  };

  return {
    onSignal: (signal) => {
      if (first === undefined) {
        log(`\n${signal}: stopping…`);
        begin(0, signal);
        return;
      }
      if (signal === first.signal && now() - first.at < duplicateWindowMs) return;
      log('Forced exit.');
      exit(130);
    },
    stopFor: (reason, code) => {
      if (first !== undefined) return;
      (code === 0 ? log : error)(reason);
      begin(code);
    },
  };
};
