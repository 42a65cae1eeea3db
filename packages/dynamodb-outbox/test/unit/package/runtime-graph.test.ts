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

  it.each(['esm', 'cjs'] as const)(
    'a writer bundled as %s carries only what writing needs: no Powertools, no X-Ray SDK (sideEffects: false)',
    async (format) => {
      // Act: a plain NodejsFunction that writes events, as a team bundles it (CommonJS by default).
      const { metafile } = await build({
        stdin: {
          contents:
            "import { OutboxWriter, writerSettings } from './lib/esm/runtime/index.js';\n" +
            'export const writer = new OutboxWriter(writerSettings.fromEnv());',
          resolveDir: PACKAGE_DIR,
          loader: 'ts',
        },
        bundle: true,
        platform: 'node',
        format,
        external: ['@aws-sdk/*'],
        write: false,
        metafile: true,
        outdir: 'unused',
        logLevel: 'error',
      });

      // Assess: what reached the bundle (the metafile's inputs also list what tree-shaking dropped).
      const inputs = Object.values(metafile.outputs).flatMap((output) =>
        Object.entries(output.inputs).flatMap(([path, { bytesInOutput }]) =>
          bytesInOutput > 0 ? [path] : [],
        ),
      );
      expect(inputs.some((path) => path.endsWith('runtime/writer.js'))).toBe(true);
      expect(
        inputs.filter((path) => /node_modules\/(@aws-lambda-powertools|aws-xray-sdk-core)\//.test(path)),
      ).toEqual([]);
    },
  );
});
