import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { median, pairedRatio } from './stats';

/*
 * Cold-start proxies. Each Lambda is bundled by the PowertoolsFunction construct itself (NodejsFunction
 * with the locally installed esbuild: ESM, minified, node24 target, source maps, the AWS SDK left
 * to the runtime), exactly as `cdk deploy` bundles it. Then each bundle is imported in a fresh
 * Node process, with the function's NODE_OPTIONS, N times; the median import time is what the
 * function adds to the runtime's own start-up. Beside each, in every round: a minimal handler that
 * only imports the same AWS SDK packages, bundled the same way, which is the floor for that
 * function; the ratio is the median of the per-round ratios, as everywhere in the benchmark. Each
 * function is imported twice over: with tracing off, as the benchmark and the offline runtime run
 * it, and with tracing on, as Lambda runs a function with active tracing (the Tracer and the X-Ray
 * SDK load only then).
 */

const run = promisify(execFile);

export interface ColdStartOptions {
  readonly projectRoot: string;
  /** Working directory for bundles (under the project, so bundles resolve the SDK from node_modules). */
  readonly buildDir: string;
  readonly cdkContext: Record<string, unknown>;
  /** Imports per bundle. */
  readonly runs: number;
  /** The functions' environment: NODE_OPTIONS and what the handlers read at import; tracing off. */
  readonly environment: Readonly<Record<string, string>>;
  /** Added to `environment` for the imports with tracing on; without it there are none. */
  readonly tracingEnvironment?: Readonly<Record<string, string>>;
  readonly log: (message: string) => void;
}

export interface ImportTiming {
  readonly bundleBytes: number;
  readonly sourceMapBytes: number;
  /** Median of the runs, milliseconds from `import()` to its resolution. */
  readonly importMs: number;
  readonly importMsRuns: readonly number[];
  /** Median time from process start to the end of the import. */
  readonly processMs: number;
}

export interface ColdStartEntry {
  /** Handler module, relative to the project root. */
  readonly entry: string;
  readonly sdkPackages: readonly string[];
  readonly bundle?: ImportTiming;
  readonly minimal?: ImportTiming;
  /** bundle ÷ minimal import time: the median of the per-round ratios. */
  readonly importRatio?: number;
  /** The same bundle imported with tracing on. */
  readonly tracing?: ImportTiming;
  /** tracing ÷ minimal import time, per round as `importRatio`. */
  readonly tracingImportRatio?: number;
  readonly error?: string;
}

/** Modules under lambdas/ that export a Lambda `handler`: every function the stack can deploy. */
/** Where handlers live: the orders app's functions and the outbox engine's (relay, reconciler). */
const HANDLER_ROOTS = ['lambdas', 'packages/dynamodb-outbox/src/engine'];

export const findHandlerEntries = (projectRoot: string): string[] =>
  HANDLER_ROOTS.flatMap((dir) => {
    const root = join(projectRoot, dir);
    return readdirSync(root, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
      .filter((file) => /^export const handler\b/m.test(readFileSync(join(root, file), 'utf8')))
      .map((file) => relative(projectRoot, join(root, file)));
  }).sort();

/** AWS SDK packages a bundle loads at run time (they are external: the Lambda runtime provides them). */
export const sdkPackagesIn = (bundle: string): string[] => {
  const found = new Set<string>();
  for (const match of bundle.matchAll(/["'](@aws-sdk\/[a-z0-9-]+)(?:\/[^"']*)?["']/g))
    if (match[1]) found.add(match[1]);
  return [...found].sort();
};

/** A handler that does nothing but load `packages`. */
export const minimalHandlerSource = (packages: readonly string[]): string =>
  [
    ...packages.map((pkg, i) => `import * as sdk${i} from '${pkg}';`),
    '',
    `const loaded = [${packages.map((_, i) => `sdk${i}`).join(', ')}];`,
    'export const handler = async () => ({ loaded: loaded.length });',
    '',
  ].join('\n');

const IMPORT_SCRIPT = `
const started = performance.now();
await import(process.argv[1]);
const importMs = performance.now() - started;
process.stdout.write(JSON.stringify({ importMs, processMs: performance.now() }));
process.exit(0);
`;

const timeImport = async (
  file: string,
  environment: Readonly<Record<string, string>>,
): Promise<{ importMs: number; processMs: number }> => {
  const { stdout } = await run(
    process.execPath,
    ['--input-type=module', '-e', IMPORT_SCRIPT, pathToFileURL(file).href],
    { env: { PATH: process.env.PATH ?? '', ...environment }, timeout: 60_000 },
  );
  return JSON.parse(stdout) as { importMs: number; processMs: number };
};

interface Bundled {
  readonly file: string;
  readonly bytes: number;
  readonly mapBytes: number;
}

/** Bundle `entries` with PowertoolsFunction; returns each bundle's file. */
const bundleWithStack = async (
  entries: readonly { id: string; entry: string }[],
  options: ColdStartOptions,
  stackName: string,
): Promise<Map<string, Bundled | Error>> => {
  const { App, Stack } = await import('aws-cdk-lib');
  const { CfnFunction } = await import('aws-cdk-lib/aws-lambda');
  const { LogLevel } = await import('aws-cdk-lib/aws-lambda-nodejs');
  const { PowertoolsFunction } = await import('../packages/dynamodb-outbox/src/cdk/function');
  const outdir = join(options.buildDir, 'cdk.out');
  const app = new App({ outdir, context: options.cdkContext });
  const stack = new Stack(app, stackName);
  const results = new Map<string, Bundled | Error>();
  for (const { id, entry } of entries) {
    try {
      // logLevel only quiets esbuild's summary on the console; the output is the same.
      const fn = new PowertoolsFunction(stack, id, {
        entry: resolve(options.projectRoot, entry),
        serviceName: id,
        bundling: { logLevel: LogLevel.ERROR },
      });
      const l1 = fn.node.defaultChild;
      if (!(l1 instanceof CfnFunction)) throw new Error('no CfnFunction');
      const code = stack.resolve(l1.code) as { s3Key?: string };
      const hash = code.s3Key?.replace(/\.zip$/, '');
      if (!hash) throw new Error('the function has no asset');
      const file = join(outdir, `asset.${hash}`, 'index.mjs');
      const mapFile = `${file}.map`;
      results.set(id, {
        file,
        bytes: statSync(file).size,
        mapBytes: statSync(mapFile, { throwIfNoEntry: false })?.size ?? 0,
      });
    } catch (error) {
      results.set(id, error instanceof Error ? error : new Error(String(error)));
    }
  }
  return results;
};

const idFor = (entry: string): string =>
  entry
    .replace(/^lambdas\//, '')
    .replace(/\.ts$/, '')
    .replace(/[^A-Za-z0-9]/g, '');

const errorText = (error: unknown): string => {
  const text = error instanceof Error ? error.message : String(error);
  const stderr = (error as { stderr?: string }).stderr;
  return (
    stderr
      ?.trim()
      .split('\n')
      .find((l) => /Error/.test(l)) ?? text
  ).slice(0, 300);
};

export const measureColdStart = async (options: ColdStartOptions): Promise<ColdStartEntry[]> => {
  rmSync(options.buildDir, { recursive: true, force: true });
  mkdirSync(join(options.buildDir, 'minimal'), { recursive: true });
  const entries = findHandlerEntries(options.projectRoot).map((entry) => ({ id: idFor(entry), entry }));
  options.log(`bundling ${entries.length} functions with PowertoolsFunction`);
  const bundles = await bundleWithStack(entries, options, 'BenchBundles');

  const minimalEntries: Array<{ id: string; entry: string }> = [];
  const packages = new Map<string, string[]>();
  for (const { id } of entries) {
    const bundle = bundles.get(id);
    if (!bundle || bundle instanceof Error) continue;
    const sdk = sdkPackagesIn(readFileSync(bundle.file, 'utf8'));
    packages.set(id, sdk);
    const file = join(options.buildDir, 'minimal', `${id}.mjs`);
    writeFileSync(file, minimalHandlerSource(sdk));
    minimalEntries.push({ id: `${id}Minimal`, entry: relative(options.projectRoot, file) });
  }
  const minimals = await bundleWithStack(minimalEntries, options, 'BenchMinimalBundles');

  const timings = new Map<string, Array<{ importMs: number; processMs: number }>>();
  const failures = new Map<string, string>();
  const { environment, tracingEnvironment } = options;
  // Each function beside its minimal handler, so that a round's ratio compares imports made under
  // the same load.
  const targets = entries.flatMap(({ id }) => {
    const bundle = bundles.get(id);
    const minimal = minimals.get(`${id}Minimal`);
    if (!bundle || bundle instanceof Error) return [];
    return [
      { id, bundle, environment },
      ...(minimal && !(minimal instanceof Error)
        ? [{ id: `${id}Minimal`, bundle: minimal, environment }]
        : []),
      ...(tracingEnvironment
        ? [{ id: `${id}Tracing`, bundle, environment: { ...environment, ...tracingEnvironment } }]
        : []),
    ];
  });
  options.log(`importing ${targets.length} bundles ${options.runs} times each in fresh processes`);
  for (let round = 0; round < options.runs; round++) {
    // Alternate the order so that neither side always runs right after the other.
    const ordered = round % 2 === 0 ? targets : [...targets].reverse();
    for (const { id, bundle, environment } of ordered) {
      if (failures.has(id)) continue;
      try {
        const timing = await timeImport(bundle.file, environment);
        timings.set(id, [...(timings.get(id) ?? []), timing]);
      } catch (error) {
        failures.set(id, errorText(error));
      }
    }
  }

  /** Median of the per-round ratios of `id` to its function's minimal handler. */
  const ratioToMinimal = (id: string, minimalId: string): number | undefined => {
    const runs = timings.get(id)?.map((r) => r.importMs) ?? [];
    const minimalRuns = timings.get(minimalId)?.map((r) => r.importMs) ?? [];
    return runs.length > 0 && runs.length === minimalRuns.length ? pairedRatio(runs, minimalRuns) : undefined;
  };

  const summary = (id: string): ImportTiming | undefined => {
    const bundle = targets.find((t) => t.id === id)?.bundle;
    const runs = timings.get(id);
    if (!bundle || !runs?.length) return undefined;
    return {
      bundleBytes: bundle.bytes,
      sourceMapBytes: bundle.mapBytes,
      importMs: median(runs.map((r) => r.importMs)),
      importMsRuns: runs.map((r) => r.importMs),
      processMs: median(runs.map((r) => r.processMs)),
    };
  };

  return entries.map(({ id, entry }): ColdStartEntry => {
    const built = bundles.get(id);
    const bundle = summary(id);
    const minimal = summary(`${id}Minimal`);
    const tracing = summary(`${id}Tracing`);
    const importRatio = ratioToMinimal(id, `${id}Minimal`);
    const tracingImportRatio = ratioToMinimal(`${id}Tracing`, `${id}Minimal`);
    const error =
      built instanceof Error
        ? `bundling failed: ${built.message}`
        : (failures.get(id) ?? failures.get(`${id}Minimal`) ?? failures.get(`${id}Tracing`));
    return {
      entry,
      sdkPackages: packages.get(id) ?? [],
      ...(bundle ? { bundle } : {}),
      ...(minimal ? { minimal } : {}),
      ...(importRatio === undefined ? {} : { importRatio }),
      ...(tracing ? { tracing } : {}),
      ...(tracingImportRatio === undefined ? {} : { tracingImportRatio }),
      ...(error ? { error } : {}),
    };
  });
};
