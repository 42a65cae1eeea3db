import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type BuildOptions, build } from 'esbuild';
import { AWS_SDK_EXTERNAL, BUNDLE_TARGET, REQUIRE_BANNER, TRACING_FILE } from '../src/cdk/bundling.js';

/*
 * Builds what the package ships, quietly:
 * - lib/esm and lib/cjs: every module of src transpiled (not bundled) by esbuild, as ESM and as
 *   CommonJS, so that an ESM app and a CommonJS app (what `cdk init app --language typescript`
 *   writes) each load the package in their own format; the declarations (tsc, NodeNext) beside both;
 * - assets/: the engine's functions (relay, reconciler), each bundled as PowertoolsFunction bundles
 *   a user's function, with the Tracer's file beside it, and the Tracer's file on its own, which
 *   PowertoolsFunction copies into every function it bundles.
 */

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(PACKAGE_DIR, 'src');
const ESM = join(PACKAGE_DIR, 'lib', 'esm');
const CJS = join(PACKAGE_DIR, 'lib', 'cjs');
const ASSETS = join(PACKAGE_DIR, 'assets');

/** Node's own versions, not Lambda's: the package runs where the app runs (package.json engines). */
const LIB_TARGET = 'node20';

const filesOf = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();

const isTypeScript = (file: string): boolean => /\.m?ts$/.test(file);

/**
 * Builds run beside readers of their output (a test synthesizing from assets/, several `npm start`s
 * each building first): a file is replaced only when its content changes, and then at once (a
 * rename), so a reader never sees it half written and a build with nothing new writes nothing.
 */
const writeIfChanged = (file: string, contents: Uint8Array | string): void => {
  const bytes = typeof contents === 'string' ? Buffer.from(contents) : contents;
  if (existsSync(file) && Buffer.compare(readFileSync(file), bytes) === 0) return;
  mkdirSync(dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, bytes);
  renameSync(partial, file);
};

const copyIfChanged = (from: string, to: string): void => writeIfChanged(to, readFileSync(from));

/** An esbuild build whose output files are written by writeIfChanged. */
const emit = async (options: BuildOptions): Promise<void> => {
  const { outputFiles } = await build({ ...options, write: false });
  for (const output of outputFiles) writeIfChanged(output.path, output.contents);
};

/**
 * The modules a CommonJS app can reach: the package's entry points (the `outbox-source` targets of
 * its exports) and what they import, plus the offline runtime's worker, which a worker thread
 * starts by path. The rest are the bin's ESM scripts, with their top-level awaits.
 */
const commonJsModules = async (): Promise<string[]> => {
  const manifest = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as {
    exports: Record<string, string | Record<string, unknown>>;
  };
  const entryPoints = Object.values(manifest.exports)
    .flatMap((target) => (typeof target === 'string' ? [] : [target['outbox-source']]))
    .filter((source): source is string => typeof source === 'string')
    .map((source) => join(PACKAGE_DIR, source));
  const { metafile } = await build({
    entryPoints: [...entryPoints, join(SRC, 'local', 'function-worker.ts')],
    absWorkingDir: PACKAGE_DIR,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    write: false,
    metafile: true,
    outdir: 'unused',
    logLevel: 'error',
  });
  return Object.keys(metafile.inputs)
    .map((input) => join(PACKAGE_DIR, input))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'));
};

const transpiled: BuildOptions = { platform: 'node', target: LIB_TARGET, outbase: SRC, logLevel: 'warning' };

/** lib/esm and lib/cjs, without their declarations. */
export const buildJavaScript = async (): Promise<void> => {
  const sources = filesOf(SRC);
  const modules = sources.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'));
  await emit({ ...transpiled, entryPoints: modules, outdir: ESM, format: 'esm' });
  await emit({
    ...transpiled,
    entryPoints: await commonJsModules(),
    outdir: CJS,
    format: 'cjs',
    // import.meta does not exist in CommonJS: the module's own URL, from its file name.
    define: { 'import.meta.url': '__importMetaUrl' },
    banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  });
  writeIfChanged(join(CJS, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
  // An .mts module is ESM in both builds (`.mjs`): CommonJS reaches it by import(), never by require().
  const esmOnly = sources.filter((file) => file.endsWith('.mts'));
  for (const outdir of [ESM, CJS])
    await emit({
      ...transpiled,
      entryPoints: esmOnly,
      outdir,
      format: 'esm',
      outExtension: { '.js': '.mjs' },
    });
  // Files the modules load by path (the worker's JavaScript entry, DynamoDB Local's launcher).
  for (const file of sources.filter((f) => !isTypeScript(f)))
    for (const outdir of [ESM, CJS]) copyIfChanged(file, join(outdir, relative(SRC, file)));
};

/**
 * The declarations, NodeNext-valid, into lib/esm and copied beside every module of lib/cjs. Only
 * emitted (the typecheck checks them), and incrementally: tsc's build info is kept in lib/, so it
 * goes with the outputs it describes.
 */
const buildDeclarations = (): void => {
  const tsc = spawnSync(
    process.execPath,
    [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '--build', 'tsconfig.build.json'],
    {
      cwd: PACKAGE_DIR,
      encoding: 'utf8',
    },
  );
  if (tsc.status !== 0)
    throw new Error(`tsc --build tsconfig.build.json failed:\n${tsc.stdout}${tsc.stderr}`);
  for (const declaration of filesOf(ESM).filter((file) => /\.d\.m?ts$/.test(file))) {
    const module = join(CJS, relative(ESM, declaration)).replace(/\.d\.(m?)ts$/, '.$1js');
    if (existsSync(module)) copyIfChanged(declaration, module.replace(/\.(m?)js$/, '.d.$1ts'));
  }
};

/** How PowertoolsFunction bundles a function (src/cdk/function.ts), for the engine's own. */
const bundled: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: BUNDLE_TARGET,
  mainFields: ['module', 'main'],
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  banner: { js: REQUIRE_BANNER },
  external: [AWS_SDK_EXTERNAL, `./${TRACING_FILE}`],
  logLevel: 'warning',
};

const ENGINE_FUNCTIONS = {
  relay: 'engine/relay-handler.ts',
  reconciler: 'engine/reconciler-handler.ts',
} as const;

/** assets/: relay/ and reconciler/ (index.mjs with tracing.mjs), and tracing/ on its own. */
export const buildAssets = async (): Promise<void> => {
  const tracing = join(ASSETS, 'tracing');
  await emit({
    ...bundled,
    entryPoints: [join(SRC, 'runtime', 'tracing.mts')],
    outfile: join(tracing, TRACING_FILE),
  });
  for (const [name, entry] of Object.entries(ENGINE_FUNCTIONS)) {
    const dir = join(ASSETS, name);
    await emit({ ...bundled, entryPoints: [join(SRC, entry)], outfile: join(dir, 'index.mjs') });
    for (const file of filesOf(tracing)) copyIfChanged(file, join(dir, relative(tracing, file)));
  }
};

/**
 * Everything the package ships, over what an earlier build left (`npm pack` starts from nothing:
 * see prepack), so that a build before every test run or start costs about a second.
 */
export const buildPackage = async (): Promise<void> => {
  await oneBuildAtATime(async () => {
    await buildJavaScript();
    await buildAssets();
    buildDeclarations();
  });
};

const LOCK = join(PACKAGE_DIR, '.build-lock');
/** A lock older than this was left by a build that died: no build takes near as long. */
const STALE_LOCK_MS = 120_000;

/** Builds of one checkout run one after another (mkdir is atomic), each then finding less to do. */
const oneBuildAtATime = async (run: () => Promise<void>): Promise<void> => {
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      const age = existsSync(LOCK) ? Date.now() - statSync(LOCK).mtimeMs : 0;
      if (age > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
      else await sleep(100);
    }
  }
  try {
    await run();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await buildPackage();
