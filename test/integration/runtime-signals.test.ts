import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, listen } from '../../packages/dynamodb-outbox/src/local/http';
import {
  commandLine,
  descendants,
  isListening,
  isRunning,
  waitFor,
} from '../../packages/dynamodb-outbox/test/support/processes';

/*
 * `npm start` as a person runs it, killed every way it can be: each signal to the process group
 * (Ctrl-C in a terminal), to npm alone (`kill <npm pid>`) and to the runtime alone, under a light
 * load of orders. Afterwards no process it started may be left, and no port open. Cells run
 * concurrently, each on its own free ports. A SIGKILL of npm alone is no cell: the runtime then
 * keeps serving, as it does after any parent is gone (the last case).
 */

const repo = fileURLToPath(new URL('../..', import.meta.url));
const signals = ['SIGINT', 'SIGTERM', 'SIGKILL'] as const;
const targets = ['process group', 'npm process', 'runtime process'] as const;
type Target = (typeof targets)[number] | 'DynamoDB Local';
const cellsRun = signals.flatMap((signal) =>
  targets
    .filter((target) => !(signal === 'SIGKILL' && target === 'npm process'))
    .map((target) => [signal, target] as const),
);
type Ports = Record<'PORT' | 'DYNAMODB_PORT' | 'EVENTBRIDGE_PORT' | 'SQS_PORT' | 'LAMBDA_PORT', number>;

interface Stack {
  readonly npm: ChildProcess;
  readonly ports: Ports;
  readonly output: () => string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: ChildProcess[] = [];
const results: Array<{ cell: string; processes: number; stoppedMs: number; npmExit: string }> = [];

/** Ports nothing listens on: claimed together, so they differ, then released. */
const freePorts = async (count: number): Promise<number[]> => {
  const servers = Array.from({ length: count }, () => createServer());
  const ports = await Promise.all(servers.map((server) => listen(server, 0)));
  await Promise.all(servers.map((server) => closeServer(server)));
  return ports;
};

/**
 * At most this many stacks starting at once: each start is a JVM and a TypeScript load, and ten
 * at once on two cores, each loading its functions beside its JVM, outrun DynamoDB Local's start-up deadline.
 */
const STARTING_AT_ONCE = 2;
let starting = 0;
const startSlots: Array<() => void> = [];
const startSlot = async (): Promise<() => void> => {
  if (starting >= STARTING_AT_ONCE) await new Promise<void>((resolve) => startSlots.push(resolve));
  else starting += 1;
  return () => {
    const next = startSlots.shift();
    if (next) next();
    else starting -= 1;
  };
};

const startStack = async (): Promise<Stack> => {
  const release = await startSlot();
  try {
    return await startStackNow();
  } finally {
    release();
  }
};

const stackPorts = async (): Promise<Ports> => {
  const [api, dynamodb, eventbridge, sqs, lambda] = (await freePorts(5)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  return {
    PORT: api,
    DYNAMODB_PORT: dynamodb,
    EVENTBRIDGE_PORT: eventbridge,
    SQS_PORT: sqs,
    LAMBDA_PORT: lambda,
  };
};

const portsEnv = (ports: Ports) =>
  Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)]));

const startStackNow = async (): Promise<Stack> => {
  const ports = await stackPorts();
  const npm = spawn('npm', ['start'], {
    cwd: repo,
    // Its own process group, as a terminal gives a foreground job.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...portsEnv(ports),
      NPM_CONFIG_LOGLEVEL: 'error',
    },
  });
  started.push(npm);
  let output = '';
  npm.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  npm.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    npm.once('exit', (code, signal) => resolve({ code, signal })),
  );
  await waitFor(() => output.includes('Press Ctrl-C to stop.') || npm.exitCode !== null, 'npm start', 90_000);
  expect(output).toContain('Press Ctrl-C to stop.');
  return { npm, ports, output: () => output, exit };
};

/** Keep a few orders in flight until `until` settles: the relay and consumer are busy when the signal lands. */
const load = (apiPort: number, until: Promise<unknown>): Promise<void> => {
  let done = false;
  void until.then(() => (done = true));
  const worker = async () => {
    while (!done) {
      await fetch(`http://127.0.0.1:${apiPort}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          customerId: 'customer-42',
          currency: 'EUR',
          lines: [{ sku: 'BOOK-1', quantity: 1, unitPrice: 1250 }],
        }),
      }).then(
        (response) => response.arrayBuffer(),
        () => (done = true),
      );
    }
  };
  return Promise.all(Array.from({ length: 2 }, worker)).then(() => undefined);
};

const runCell = async (signal: NodeJS.Signals, target: Target): Promise<Stack> => {
  const stack = await startStack();
  const npmPid = stack.npm.pid ?? 0;
  const tree = [npmPid, ...descendants(npmPid)];
  const runtime = tree.find((pid) => commandLine(pid).includes('cli/bin.ts local'));
  const java = tree.find((pid) => commandLine(pid).includes('DynamoDbLocalLauncher'));
  expect(runtime, 'the runtime process').toBeDefined();
  expect(java, 'the DynamoDB Local process').toBeDefined();

  const loaded = load(stack.ports.PORT, stack.exit);
  // Orders are being written before the signal lands.
  await waitFor(() => /POST \/orders {2}201/.test(stack.output()), 'a first order', 60_000);
  const signalled = performance.now();
  const pid =
    target === 'process group'
      ? -npmPid
      : target === 'npm process'
        ? npmPid
        : target === 'runtime process'
          ? runtime
          : java;
  process.kill(pid ?? 0, signal);

  await waitFor(() => tree.every((p) => !isRunning(p)), `every process of ${target} ${signal} to exit`);
  const ports = Object.values(stack.ports);
  await waitFor(
    async () => (await Promise.all(ports.map((port) => isListening(port)))).every((open) => !open),
    'every port to close',
  );
  const stoppedMs = performance.now() - signalled;
  await loaded;
  const { code, signal: npmSignal } = await stack.exit;
  // A runtime that stops removes its temporary bucket directory; one killed by SIGKILL cannot, and
  // the test removes it in its place.
  const bucketsDir = /→ (\/\S*outbox-buckets-[^/\s]+)\//.exec(stack.output())?.[1];
  expect(bucketsDir, 'the buckets directory the banner names').toBeDefined();
  if (signal === 'SIGKILL' && target !== 'DynamoDB Local')
    rmSync(bucketsDir ?? '', { recursive: true, force: true });
  else expect(existsSync(bucketsDir ?? ''), `${bucketsDir} after ${signal} to the ${target}`).toBe(false);
  results.push({
    cell: `${signal} → ${target}`,
    processes: tree.length,
    stoppedMs: Math.round(stoppedMs),
    npmExit: npmSignal ?? String(code),
  });
  return stack;
};

type CellResult = { stack: Stack } | { error: unknown };
const cells = new Map<string, Promise<CellResult>>();
/** Every cell starts at once, when the file loads the tests; each test awaits its own. */
const cell = (signal: NodeJS.Signals, target: Target): Promise<Stack> => {
  const key = `${signal} → ${target}`;
  let running = cells.get(key);
  if (running === undefined) {
    running = runCell(signal, target).then(
      (stack) => ({ stack }),
      (error: unknown) => ({ error }),
    );
    cells.set(key, running);
  }
  return running.then((result) => {
    if ('error' in result) throw result.error;
    return result.stack;
  });
};

describe('npm start, stopped by a signal', () => {
  beforeAll(() => {
    for (const [signal, target] of cellsRun) void cell(signal, target);
    void cell('SIGKILL', 'DynamoDB Local');
  });

  afterAll(() => {
    // Nothing may outlive a failed cell either.
    for (const npm of started) {
      for (const pid of [npm.pid ?? 0, ...descendants(npm.pid ?? 0)])
        if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    }
    console.log(
      [
        'cell | processes | all gone after | npm exit',
        ...results.map((r) => `${r.cell} | ${r.processes} | ${r.stoppedMs} ms | ${r.npmExit}`),
      ].join('\n'),
    );
  });

  for (const [signal, target] of cellsRun)
    it(`${signal} to the ${target} leaves no process and no port behind`, {
      timeout: 120_000,
    }, async () => {
      await cell(signal, target);
    });

  it('stops with one line and exit status 1 when DynamoDB Local dies', { timeout: 120_000 }, async () => {
    const stack = await cell('SIGKILL', 'DynamoDB Local');
    expect((await stack.exit).code).toBe(1);
    const lines = stack.output().split('\n');
    expect(lines.filter((line) => line.includes('DynamoDB Local (http://127.0.0.1:'))).toEqual([
      `DynamoDB Local (http://127.0.0.1:${stack.ports.DYNAMODB_PORT}) stopped: killed by SIGKILL. Stopping the runtime; start it again with \`dynamodb-outbox local\`.`,
    ]);
    // Each stream shard says once that it cannot be read, and requests in flight when it died may
    // fail once each; nothing keeps retrying.
    const refused = lines.filter((line) => line.includes('ECONNREFUSED'));
    const shardLines = refused.filter((line) => line.includes('Stream poller error'));
    const shardIds = shardLines.map((line) => /"shardId":"([^"]+)"/.exec(line)?.[1]);
    expect(new Set(shardIds).size).toBe(shardLines.length);
    expect(refused.length - shardLines.length).toBeLessThanOrEqual(3);
  });

  it('keeps serving after the script that started it in the background exits; SIGTERM then leaves nothing', {
    timeout: 120_000,
  }, async () => {
    // Prepare: a script that starts the bin in the background and exits at once.
    const release = await startSlot();
    const ports = await stackPorts();
    const script = spawn(
      'sh',
      ['-c', 'node --import tsx packages/dynamodb-outbox/src/cli/bin.ts local & echo "runtime pid $!"'],
      { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...portsEnv(ports) } },
    );
    started.push(script);
    let output = '';
    // The runtime keeps the script's output pipe: its banner still arrives here.
    script.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    script.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const runtime = await (async () => {
      try {
        await waitFor(
          () => output.includes('Press Ctrl-C to stop.'),
          'the runtime in the background',
          90_000,
        );
        return Number(/runtime pid (\d+)/.exec(output)?.[1]);
      } finally {
        release();
      }
    })();
    const backgroundProcesses = [runtime, ...descendants(runtime)];
    const bucketsDir = /→ (\/\S*outbox-buckets-[^/\s]+)\//.exec(output)?.[1];

    try {
      // Act: the script is long gone; the runtime answers.
      expect(script.exitCode).toBe(0);
      const listed = await fetch(`http://127.0.0.1:${ports.LAMBDA_PORT}/2015-03-31/functions/`);
      const { Functions } = (await listed.json()) as { Functions: unknown[] };
      process.kill(runtime, 'SIGTERM');

      // Assess
      expect(Functions.length).toBeGreaterThan(0);
      expect(backgroundProcesses.some((pid) => commandLine(pid).includes('DynamoDbLocalLauncher'))).toBe(
        true,
      );
      await waitFor(
        () => backgroundProcesses.every((pid) => !isRunning(pid)),
        'every background process to exit',
      );
      expect(bucketsDir).toBeDefined();
      expect(existsSync(bucketsDir ?? '')).toBe(false);
      for (const port of Object.values(ports)) expect(await isListening(port)).toBe(false);
    } finally {
      // Nothing may outlive a failed case: the runtime is no descendant of the test any more.
      if (isRunning(runtime)) process.kill(runtime, 'SIGKILL');
    }
  });
});
