import { closeSync, openSync, writeSync } from 'node:fs';
import { devNull } from 'node:os';

/**
 * In Lambda, a handler's log lines go to stdout and on to CloudWatch. Here the handlers run with
 * their real logging (Powertools JSON lines, EMF metrics), so that serializing and writing them
 * is part of what is measured, but the lines go to the null device: the console shows only the
 * benchmark's own progress and report. Lines are counted by level so that errors do not vanish.
 */

export interface HandlerOutput {
  readonly lines: number;
  readonly warnings: number;
  readonly errors: number;
  readonly firstErrors: readonly string[];
}

export interface Console {
  /** Progress, on stderr. */
  progress(message: string): void;
  /** The report, on stdout. */
  report(text: string): void;
  counts(): HandlerOutput;
  restore(): void;
}

type Write = typeof process.stdout.write;

export const captureHandlerOutput = (): Console => {
  const stdoutWrite: Write = process.stdout.write.bind(process.stdout);
  const stderrWrite: Write = process.stderr.write.bind(process.stderr);
  const nullFd = openSync(devNull, 'w');
  const counts = { lines: 0, warnings: 0, errors: 0, firstErrors: [] as string[] };
  let restored = false;

  const sink = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    writeSync(nullFd, text);
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      counts.lines++;
      if (/"level":"(WARN|WARNING)"/.test(line)) counts.warnings++;
      if (/"level":"(ERROR|CRITICAL)"/.test(line) || /^\s*(Error|TypeError|Unhandled)/.test(line)) {
        counts.errors++;
        if (counts.firstErrors.length < 5) counts.firstErrors.push(line.slice(0, 500));
      }
    }
    const callback = rest.find((r): r is () => void => typeof r === 'function');
    callback?.();
    return true;
  }) as Write;
  process.stdout.write = sink;
  process.stderr.write = sink;

  return {
    progress: (message) => {
      stderrWrite(`${message}\n`);
    },
    report: (text) => {
      stdoutWrite(text.endsWith('\n') ? text : `${text}\n`);
    },
    counts: () => ({ ...counts, firstErrors: [...counts.firstErrors] }),
    restore: () => {
      if (restored) return;
      restored = true;
      process.stdout.write = stdoutWrite;
      process.stderr.write = stderrWrite;
      closeSync(nullFd);
    },
  };
};
