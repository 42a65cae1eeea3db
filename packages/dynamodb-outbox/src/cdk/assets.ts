import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's name in its package.json: where the search for its root stops. */
const PACKAGE_NAME = 'dynamodb-outbox';

/**
 * The package's root directory, found from this module's own file: src/cdk in this repository,
 * lib/esm/cdk or lib/cjs/cdk once installed. The nearest package.json going up is not enough:
 * lib/cjs holds one of its own (`{"type":"commonjs"}`).
 */
const packageRoot = (from: string): string => {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === PACKAGE_NAME
    )
      return dir;
    if (dirname(dir) === dir)
      throw new Error(`${PACKAGE_NAME}: no package.json named ${PACKAGE_NAME} above ${from}`);
  }
};

/** What the package build bundles into assets/: the engine's functions and the Tracer's file. */
export type PrebuiltAsset = 'relay' | 'reconciler' | 'tracing';

/**
 * The directory of a prebuilt asset. The build writes it; a checkout that was not built has none,
 * and synth stops here with the command that makes it.
 */
export const prebuiltAsset = (name: PrebuiltAsset): string => {
  const dir = join(packageRoot(dirname(fileURLToPath(import.meta.url))), 'assets', name);
  if (!existsSync(dir))
    throw new Error(`${PACKAGE_NAME}: ${dir} is missing; build the package first (npm run build)`);
  return dir;
};
