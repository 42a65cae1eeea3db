import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import picomatch from 'picomatch';
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

/** cdk.json's watch patterns: a string or a list, as the CDK CLI reads them. */
const patternsSchema = z
  .union([z.string(), z.array(z.string())])
  .transform((patterns) => (Array.isArray(patterns) ? patterns : [patterns]));

const cdkJsonSchema = z.object({
  app: z.string().min(1),
  output: z.string().default('cdk.out'),
  context: z.record(z.string(), z.unknown()).default({}),
  watch: z.object({ include: patternsSchema.optional(), exclude: patternsSchema.optional() }).optional(),
});

export interface CdkApp {
  /** The directory of cdk.json: the app command runs here. */
  readonly dir: string;
  /** `cdk.json`'s `app`, or the one given. */
  readonly command: string;
  /** cdk.json's context under the `-c key=value` overrides. */
  readonly context: Readonly<Record<string, unknown>>;
  /** What the cache key covers: the files cdk.json's `watch` settings select, as `cdk watch` does. */
  readonly watch: { readonly include: readonly string[]; readonly exclude: readonly string[] };
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
  const { watch, output } = parsed.data;
  return {
    dir: resolve(dir),
    command: command ?? parsed.data.app,
    context: { ...parsed.data.context, ...overrides },
    // As the CDK CLI's `cdk watch` reads them: every file unless `include` says otherwise; the
    // assembly, dotfiles and dot-directories (so .local too) and node_modules never.
    watch: {
      include: watch?.include?.length ? watch.include : ['**'],
      exclude: [...(watch?.exclude ?? []), `${output}/**`, '**/.*', '**/.*/**', '**/node_modules/**'],
    },
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

/**
 * The CDK CLI's reading of a watch pattern (createIgnoreMatcher in aws-cdk): a pattern without
 * glob characters names a directory (or a file) and everything under it.
 */
const normalizePattern = (pattern: string): string =>
  /[*?[]/.test(pattern) ? pattern : `${pattern.replace(/\/+$/, '')}/**`;

/** `a/b/**` → `a`, `a/b`, `a/b/**`: the directories the walk must enter to reach what the pattern selects. */
const directoryPrefixes = (pattern: string): string[] =>
  pattern.split('/').map((_, i, segments) => segments.slice(0, i + 1).join('/'));

/**
 * The files of the app directory its watch settings select, sorted, with the CDK CLI's semantics
 * (picomatch with dotfiles, exclusions first; a directory is entered while an include pattern
 * or a prefix of one matches it).
 */
export const watchedFiles = (app: Pick<CdkApp, 'dir' | 'watch'>): string[] => {
  const options = { dot: true };
  const include = app.watch.include.map(normalizePattern);
  const included = picomatch(include, options);
  const enters = picomatch(include.flatMap(directoryPrefixes), options);
  const exclude = app.watch.exclude.map(normalizePattern);
  const excluded = exclude.length > 0 ? picomatch(exclude, options) : () => false;
  const files: string[] = [];
  const walk = (relativeDir: string): void => {
    for (const entry of readdirSync(join(app.dir, relativeDir), { withFileTypes: true })) {
      const path = relativeDir ? `${relativeDir}/${entry.name}` : entry.name;
      if (excluded(path)) continue;
      if (entry.isDirectory()) {
        if (enters(path)) walk(path);
      } else if (entry.isFile() && included(path)) files.push(join(app.dir, path));
    }
  };
  walk('');
  return files.sort();
};

const ENTRY_RECORDER = fileURLToPath(new URL('./entry-recorder.cjs', import.meta.url));

/** Lines of a failed synthesis's stderr kept in the error, at most. */
const MAX_DETAIL_LINES = 200;

/**
 * What a failed synthesis said that matters: from its first error on (a cdk-nag report lists
 * every finding after it, and each finding points at the lines below), else its last lines.
 */
export const failureDetail = (stderr: string): string => {
  const lines = stderr.trimEnd().split('\n');
  const first = lines.findIndex((line) => /\berrors?\b/i.test(line));
  const kept = first === -1 ? lines.slice(-5) : lines.slice(first);
  return kept.length > MAX_DETAIL_LINES
    ? [...kept.slice(0, MAX_DETAIL_LINES), `… ${kept.length - MAX_DETAIL_LINES} more lines`].join('\n')
    : kept.join('\n').trim();
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
  const files = [join(app.dir, 'cdk.json'), ...lockfileOf(app.dir), ...watchedFiles(app)];
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
        // Every Node process of the app command records its NodejsFunctions' entries.
        NODE_OPTIONS: [process.env.NODE_OPTIONS, `--require ${JSON.stringify(ENTRY_RECORDER)}`]
          .filter(Boolean)
          .join(' '),
      },
    });
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    child.on('error', fail);
    child.on('exit', done);
  });
  if (code !== 0 || !existsSync(join(building, 'manifest.json'))) {
    rmSync(building, { recursive: true, force: true });
    const detail = failureDetail(stderr.join(''));
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

/** Where a function's handler source is, as the entry recorder found it at synthesis. */
export interface RecordedEntry {
  readonly stack: string;
  readonly logicalId: string;
  /** Construct path, for messages. */
  readonly path: string;
  /** Absolute path of the handler module. */
  readonly entry: string;
  /** The function's Handler, `index.<export>`. */
  readonly handler: string;
}

const recordedEntrySchema = z.object({
  stack: z.string(),
  logicalId: z.string(),
  path: z.string(),
  entry: z.string(),
  handler: z.string(),
});

/** The NodejsFunction entries every process of the app recorded, by `<stack>/<logical id>`. */
export const recordedEntries = (outdir: string): Map<string, RecordedEntry> => {
  const entries = new Map<string, RecordedEntry>();
  for (const name of readdirSync(outdir).filter((n) => /^dynamodb-outbox-entries\.\d+\.json$/.test(n)))
    for (const entry of z
      .array(recordedEntrySchema)
      .parse(JSON.parse(readFileSync(join(outdir, name), 'utf8'))))
      entries.set(`${entry.stack}/${entry.logicalId}`, entry);
  return entries;
};
