import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const PACKAGE_DIR = fileURLToPath(new URL('../../../', import.meta.url));

describe('dynamodb-outbox/runtime as built', () => {
  it.each(['lib/esm/runtime/index.js', 'lib/cjs/runtime/index.js'])(
    '%s bundles without aws-cdk-lib or constructs anywhere in its import graph',
    async (entry) => {
      // Act: a function's bundle of the entry, as esbuild makes it (the AWS SDK is Lambda's own).
      const { metafile } = await build({
        entryPoints: [entry],
        absWorkingDir: PACKAGE_DIR,
        bundle: true,
        platform: 'node',
        format: 'esm',
        external: ['@aws-sdk/*'],
        write: false,
        metafile: true,
        outdir: 'unused',
        logLevel: 'error',
      });

      // Assess
      const inputs = Object.keys(metafile.inputs);
      expect(inputs).toContain(entry);
      expect(inputs.filter((path) => /node_modules\/(aws-cdk-lib|constructs)\//.test(path))).toEqual([]);
    },
  );
});
