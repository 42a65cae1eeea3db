import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import * as z from 'zod';
import { LOCAL_REGION } from './clients.js';
import { LOCAL_ACCOUNT } from './template.js';

/**
 * Synthesize a CDK app the way the CDK CLI does (the `app` command with CDK_OUTDIR and
 * CDK_CONTEXT_JSON set), offline and without bundling, and cache the cloud assembly while the
 * app's sources and the context are unchanged.
 */

export class SynthError extends Error {
  override readonly name = 'SynthError';
}

const cdkJsonSchema = z.object({
  app: z.string().min(1),
  context: z.record(z.string(), z.unknown()).default({}),
  watch: z
    .object({ include: z.array(z.string()).default([]) })
    .partial()
    .optional(),
});

export interface CdkApp {
  /** The directory of cdk.json: the app command runs here. */
  readonly dir: string;
  /** `cdk.json`'s `app`, or the one given. */
  readonly command: string;
  /** cdk.json's context under the `-c key=value` overrides. */
  readonly context: Readonly<Record<string, unknown>>;
  /** What the cache key covers: cdk.json's `watch.include`, or the whole directory. */
  readonly sources: readonly string[];
}

/** The app in `dir` (its cdk.json), with context overrides as `-c key=value` gives them. */
export const readCdkApp = (
  dir: string,
  overrides: Readonly<Record<string, unknown>> = {},
  command?: string,
): CdkApp => {
  const path = join(dir, 'cdk.json');
  if (!existsSync(path)) throw new SynthError(`No cdk.json in ${dir}`);
  const parsed = cdkJsonSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new SynthError(`${path} has no "app" command`);
  const include = parsed.data.watch?.include ?? [];
  return {
    dir: resolve(dir),
    command: command ?? parsed.data.app,
    context: { ...parsed.data.context, ...overrides },
    sources: include.length > 0 ? include : ['.'],
  };
};

/** `-c key=value` / `--context key=value` pairs → context values (strings, as the CLI passes them). */
export const parseContextArgs = (args: readonly string[]): Record<string, string> => {
  const context: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const inline = /^(?:-c|--context)=(.*)$/.exec(arg);
    const pair = inline ? inline[1] : arg === '-c' || arg === '--context' ? args[++i] : undefined;
    if (pair === undefined) throw new SynthError(`Unknown argument ${arg}; pass context as -c key=value`);
    const at = pair.indexOf('=');
    if (at < 1) throw new SynthError(`Context must be -c key=value, got "${pair}"`);
    context[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return context;
};

const SKIPPED = new Set(['node_modules', 'cdk.out', '.local', '.git', 'coverage']);

const sourceFiles = (root: string, entry: string): string[] => {
  const path = join(root, entry);
  if (!existsSync(path)) return [];
  if (statSync(path).isFile()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .filter((e) => !SKIPPED.has(e.name))
    .flatMap((e) => (e.isDirectory() ? sourceFiles(path, e.name) : [join(path, e.name)]))
    .sort();
};

/** Bumped when what `synthesize` passes to the app changes, so older assemblies are not reused. */
const SYNTH_VERSION = '3';

/** The lockfile nearest to the app: a dependency upgrade (aws-cdk-lib) changes the template too. */
const lockfileOf = (dir: string): string[] => {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, 'package-lock.json'))) return [join(at, 'package-lock.json')];
    if (dirname(at) === at) return [];
  }
};

/**
 * Hash of what changes the template: the command, the context, every source file's content and
 * the lockfile.
 */
export const cacheKey = (app: CdkApp): string => {
  const hash = createHash('sha256');
  hash
    .update(SYNTH_VERSION)
    .update('\0')
    .update(app.command)
    .update('\0')
    .update(JSON.stringify(app.context))
    .update('\0');
  const files = [
    join(app.dir, 'cdk.json'),
    ...lockfileOf(app.dir),
    ...app.sources.flatMap((s) => sourceFiles(app.dir, s)),
  ];
  for (const file of files) {
    hash.update(relative(app.dir, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
};

export interface Synthesized {
  /** The cloud assembly directory. */
  readonly outdir: string;
  readonly cached: boolean;
  readonly durationMs: number;
}

export interface SynthOptions {
  /** Where assemblies are cached. @default <app dir>/.local/synth */
  readonly cacheDir?: string;
  /** Told when a synthesis (not a cache hit) starts. */
  readonly onSynthStart?: () => void;
}

/**
 * The app's cloud assembly: from the cache when the key matches, else synthesized by running the
 * app command. Bundling is skipped (`aws:cdk:bundling-stacks: []`): the runtime runs the sources.
 */
export const synthesize = async (app: CdkApp, options: SynthOptions = {}): Promise<Synthesized> => {
  const started = Date.now();
  const cacheDir = options.cacheDir ?? join(app.dir, '.local', 'synth');
  const key = cacheKey(app);
  const outdir = join(cacheDir, key);
  if (existsSync(join(outdir, 'manifest.json')))
    return { outdir, cached: true, durationMs: Date.now() - started };

  options.onSynthStart?.();
  mkdirSync(cacheDir, { recursive: true });
  // Its own directory: two processes may synthesize the same app at once (test files do).
  const building = `${outdir}.${process.pid}.${Date.now()}.partial`;
  const context = {
    ...app.context,
    'aws:cdk:bundling-stacks': [],
    'aws:cdk:enable-path-metadata': true,
    // Where each asset is staged, as the CDK CLI records it: functions deployed from an asset
    // directory as it is run from there.
    'aws:cdk:enable-asset-metadata': true,
    'aws:cdk:disable-version-reporting': true,
  };
  const stderr: string[] = [];
  const code = await new Promise<number | null>((done, fail) => {
    const child = spawn(app.command, {
      cwd: app.dir,
      shell: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        CDK_OUTDIR: building,
        CDK_CONTEXT_JSON: JSON.stringify(context),
        // As the CDK CLI does from the credentials: a stack with region-bound parts (replica
        // encryption, a customer managed key) needs an account and a region to synthesize.
        CDK_DEFAULT_ACCOUNT: LOCAL_ACCOUNT,
        CDK_DEFAULT_REGION: LOCAL_REGION,
        CDK_DISABLE_CLI_TELEMETRY: 'true',
        CDK_DISABLE_VERSION_CHECK: '1',
      },
    });
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    child.on('error', fail);
    child.on('exit', done);
  });
  if (code !== 0 || !existsSync(join(building, 'manifest.json'))) {
    rmSync(building, { recursive: true, force: true });
    const detail = stderr.join('').trim().split('\n').slice(-5).join('\n');
    throw new SynthError(
      `The CDK app (${app.command}) did not synthesize (exit ${code})${detail ? `:\n${detail}` : ''}`,
    );
  }
  try {
    renameSync(building, outdir);
  } catch {
    // Another process finished the same assembly first: same key, same content.
    rmSync(building, { recursive: true, force: true });
  }
  pruneCache(cacheDir, key);
  return { outdir, cached: false, durationMs: Date.now() - started };
};

/** Assemblies kept per app: one per context a developer or a test switches between. */
const KEPT_ASSEMBLIES = 8;

/** Drop all but the newest assemblies; never the one just made, never one still being written. */
const pruneCache = (cacheDir: string, keep: string): void => {
  const assemblies = readdirSync(cacheDir)
    .filter((name) => !name.endsWith('.partial') && name !== keep)
    .map((name) => ({ name, mtime: statSync(join(cacheDir, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const { name } of assemblies.slice(KEPT_ASSEMBLIES - 1))
    rmSync(join(cacheDir, name), { recursive: true, force: true });
};

const manifestSchema = z.object({
  artifacts: z.record(
    z.string(),
    z.object({
      type: z.string(),
      properties: z.object({ templateFile: z.string() }).partial().optional(),
      displayName: z.string().optional(),
    }),
  ),
});

/** The stacks of an assembly: name → template file. */
export const assemblyStacks = (outdir: string): Map<string, string> => {
  const manifest = manifestSchema.parse(JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')));
  const stacks = new Map<string, string>();
  for (const [name, artifact] of Object.entries(manifest.artifacts))
    if (artifact.type === 'aws:cloudformation:stack' && artifact.properties?.templateFile)
      stacks.set(name, join(outdir, artifact.properties.templateFile));
  return stacks;
};
