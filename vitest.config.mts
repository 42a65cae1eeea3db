import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// The orders app imports the library by its package name; in this repository that name resolves
// to the library's sources (the `outbox-source` condition of its exports), so a test and the app
// share one copy of every module. The built package is proven from outside by .ci/run.
// Vitest's own defaults beside it: the server conditions without `module`.
const conditions = ['outbox-source', ...defaultServerConditions.filter((c) => c !== 'module')];

export default defineConfig({
  ssr: { resolve: { conditions } },
  test: {
    globalSetup: ['packages/dynamodb-outbox/test/build-setup.ts'],
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      POWERTOOLS_DEV: 'false',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_TRACE_ENABLED: 'false',
    },
    // Projects run one after another (groupOrder): the machine has two cores, and the integration
    // files each start a DynamoDB Local JVM, so they must not compete with the CDK synths of infra.
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'packages/*/test/unit/**/*.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          // The README's example app keeps its test where a team's cdk init app has it (test/).
          include: [
            'test/integration/**/*.test.ts',
            'packages/*/test/integration/**/*.test.ts',
            'packages/*/test/fixtures/shipments/test/*.test.ts',
          ],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 2 },
        },
      },
      {
        extends: true,
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts', 'packages/*/test/infra/**/*.test.ts'],
          // The first synth of a file fingerprints the project's assets: seconds, not milliseconds.
          testTimeout: 60_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
