import { buildAssets, buildJavaScript } from '../scripts/build.js';

/** Vitest loads this file afresh for the run and for each project: one build per process. */
const BUILT = Symbol.for('dynamodb-outbox.test-build');
const processWide = globalThis as { [BUILT]?: Promise<void> };

/**
 * Tests run what the package build makes from the sources as they are now: the engine's functions
 * are deployed from assets/, and a CDK app or a function started in a child process (the offline
 * runtime, a fixture app) loads the package from lib/esm, where no test condition reaches.
 * Declarations are left to `npm run build`: only the package's own tests read them.
 */
export default function setup(): Promise<void> {
  processWide[BUILT] ??= buildJavaScript().then(buildAssets);
  return processWide[BUILT];
}
