import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const PACKAGE_DIR = new URL('../../../', import.meta.url);

interface Packed {
  readonly entryCount: number;
  readonly size: number;
  readonly unpackedSize: number;
  readonly files: readonly { readonly path: string }[];
}

/** What `npm pack` would put in the tarball, without its lifecycle scripts (prepack rebuilds). */
const packed = (): Packed => {
  const json = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: PACKAGE_DIR,
    encoding: 'utf8',
    env: { ...process.env, NPM_CONFIG_LOGLEVEL: 'error' },
  });
  const [result] = JSON.parse(json) as Packed[];
  if (!result) throw new Error('npm pack listed no package');
  return result;
};

describe('npm pack', () => {
  const { files } = packed();
  const paths = files.map((f) => f.path);

  it('ships both builds with their declarations, the prebuilt engine, the README and the licence', () => {
    expect(paths).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'LICENSE',
        'lib/esm/cdk/index.js',
        'lib/esm/cdk/index.d.ts',
        'lib/esm/runtime/index.js',
        'lib/esm/runtime/index.d.ts',
        'lib/esm/runtime/tracing.mjs',
        'lib/esm/local/index.js',
        'lib/esm/local/index.d.ts',
        'lib/esm/local/function-worker.mjs',
        'lib/esm/local/DynamoDbLocalLauncher.java',
        'lib/cjs/package.json',
        'lib/cjs/cdk/index.js',
        'lib/cjs/cdk/index.d.ts',
        'lib/cjs/runtime/index.js',
        'lib/cjs/runtime/index.d.ts',
        'lib/cjs/runtime/tracing.mjs',
        'lib/cjs/local/index.js',
        'lib/cjs/local/index.d.ts',
        'assets/relay/index.mjs',
        'assets/relay/tracing.mjs',
        'assets/reconciler/index.mjs',
        'assets/reconciler/tracing.mjs',
        'assets/tracing/tracing.mjs',
      ]),
    );
  });

  it('ships no sources, tests, benchmarks, CI or build state', () => {
    const unwanted = paths.filter(
      (path) =>
        /^(src|test|bench|scripts|\.ci|node_modules)\//.test(path) ||
        /\.test\./.test(path) ||
        (/\.m?ts$/.test(path) && !/\.d\.m?ts$/.test(path)) ||
        path.endsWith('.tsbuildinfo') ||
        path.startsWith('tsconfig'),
    );
    expect(unwanted).toEqual([]);
  });

  it('ships the file its bin runs', () => {
    const manifest = JSON.parse(readFileSync(new URL('package.json', PACKAGE_DIR), 'utf8')) as {
      bin: Record<string, string>;
    };
    const bins = Object.values(manifest.bin).map((path) => path.replace(/^\.\//, ''));
    expect(bins).toHaveLength(1);
    expect(paths).toEqual(expect.arrayContaining(bins));
  });
});
