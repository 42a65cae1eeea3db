/**
 * How every function of the outbox is bundled: the engine's own at package build time
 * (scripts/build.ts), the user's by PowertoolsFunction at synth. Pure data, so the build script
 * reads it without loading aws-cdk-lib.
 */

/** Lambda's Node.js 24 runtime. */
export const BUNDLE_TARGET = 'node24';

/** ESM bundles need a real `require` for the few CommonJS dependencies that call it. */
export const REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

/** Lambda's Node.js runtimes carry the AWS SDK v3: bundles leave it out. */
export const AWS_SDK_EXTERNAL = '@aws-sdk/*';

/**
 * The Tracer's file, in every function's asset beside its bundle: src/runtime/powertools.ts
 * imports it (`./tracing.mjs`) only where tracing is on. Bundled apart because, inside the
 * function's bundle, the X-Ray SDK would be parsed and its source map read on every cold start,
 * used or not: about as much time as evaluating it.
 */
export const TRACING_FILE = 'tracing.mjs';
