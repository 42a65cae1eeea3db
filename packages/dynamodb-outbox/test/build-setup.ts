import { buildPackage } from '../scripts/build.js';

/** Vitest loads this file afresh for the run and for each project: one build per process. */
const BUILT = Symbol.for('dynamodb-outbox.test-build');
const processWide = globalThis as { [BUILT]?: Promise<void> };

/**
 * Tests run what the package build makes from the sources as they are now: the engine's functions
 * are deployed from assets/, and a CDK app or a function started in a child process (the offline
 * runtime, a fixture app) loads the package from lib/esm, where no test condition reaches. After
 * `npm run build` (as `npm test` does) it finds everything up to date: a second at most.
 */
export default function setup(): Promise<void> {
  processWide[BUILT] ??= buildPackage();
  return processWide[BUILT];
}
