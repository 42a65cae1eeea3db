import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/*
 * The built package as an app outside this repository loads it: from a directory of its own whose
 * node_modules/dynamodb-outbox links to the package (its dependencies resolve from the package's
 * real path), a CommonJS app (what `cdk init app --language typescript` writes) and an ESM app.
 */

const run = promisify(execFile);
const PACKAGE_DIR = fileURLToPath(new URL('../../../', import.meta.url));
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const NODE_TYPES = dirname(dirname(createRequire(import.meta.url).resolve('@types/node/package.json')));

const EXPECTED = {
  cdk: ['OutboxConsumer', 'OutboxMonitoring', 'PowertoolsFunction', 'TransactionalOutbox', 'sameTableLayout'],
  runtime: ['OutboxWriter', 'createOutboxConsumer', 'eventEnvelopeSchema', 'instrumented', 'traced'],
  local: ['startLocalRuntime'],
};

/**
 * Prints the entries' export names, then synthesizes an outbox and prints how its relay is
 * deployed: from the engine's prebuilt asset, which the package finds from this build's own files.
 */
const probe = (load: string) => `${load}
const app = new cdk.App({ outdir: process.env.OUTDIR, context: { 'aws:cdk:enable-asset-metadata': true } });
const stack = new cdk.Stack(app, 'Probe');
const table = new TableV2(stack, 'Table', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
const outbox = new outboxCdk.TransactionalOutbox(stack, 'Outbox', {
  table,
  eventBus: new EventBus(stack, 'Bus'),
  source: 'probe',
});
const assembly = app.synth();
const relay = assembly.getStackByName('Probe').template.Resources[
  stack.getLogicalId(outbox.relay.function.node.defaultChild)
];
process.stdout.write(JSON.stringify({
  exports: { cdk: Object.keys(outboxCdk), runtime: Object.keys(runtime), local: Object.keys(local) },
  handler: relay.Properties.Handler,
  runtime: relay.Properties.Runtime,
  asset: readdirSync(join(assembly.directory, relay.Metadata['aws:asset:path'])).sort(),
}));
`;

let appDir: string;

beforeAll(() => {
  appDir = mkdtempSync(join(tmpdir(), 'outbox-consumer-'));
  mkdirSync(join(appDir, 'node_modules'));
  symlinkSync(PACKAGE_DIR, join(appDir, 'node_modules', 'dynamodb-outbox'), 'dir');
  // aws-cdk-lib and constructs as the app's own, peer dependencies found from the app.
  for (const peer of ['aws-cdk-lib', 'constructs'])
    symlinkSync(
      realpathSync(dirname(createRequire(import.meta.url).resolve(`${peer}/package.json`))),
      join(appDir, 'node_modules', peer),
      'dir',
    );
});

afterAll(() => rmSync(appDir, { recursive: true, force: true }));

const runApp = async (file: string, source: string) => {
  writeFileSync(join(appDir, file), source);
  const outdir = mkdtempSync(join(appDir, 'cdk.out-'));
  const { stdout } = await run(process.execPath, [file], {
    cwd: appDir,
    env: { ...process.env, OUTDIR: outdir },
  });
  return JSON.parse(stdout) as {
    exports: Record<keyof typeof EXPECTED, string[]>;
    handler: string;
    runtime: string;
    asset: string[];
  };
};

describe.each([
  [
    'a CommonJS app',
    'app.cjs',
    `const { readdirSync } = require('node:fs');
const { join } = require('node:path');
const cdk = require('aws-cdk-lib');
const { TableV2, AttributeType } = require('aws-cdk-lib/aws-dynamodb');
const { EventBus } = require('aws-cdk-lib/aws-events');
const outboxCdk = require('dynamodb-outbox');
const runtime = require('dynamodb-outbox/runtime');
const local = require('dynamodb-outbox/local');`,
  ],
  [
    'an ESM app',
    'app.mjs',
    `import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as cdk from 'aws-cdk-lib';
import { TableV2, AttributeType } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import * as outboxCdk from 'dynamodb-outbox';
import * as runtime from 'dynamodb-outbox/runtime';
import * as local from 'dynamodb-outbox/local';`,
  ],
])('%s', (_app, file, load) => {
  it('loads every entry and deploys the relay from its prebuilt asset', { timeout: 30_000 }, async () => {
    // Act
    const result = await runApp(file, probe(load));

    // Assess
    expect(result.exports.cdk).toEqual(expect.arrayContaining(EXPECTED.cdk));
    expect(result.exports.runtime).toEqual(expect.arrayContaining(EXPECTED.runtime));
    expect(result.exports.local).toEqual(expect.arrayContaining(EXPECTED.local));
    expect(result).toMatchObject({
      handler: 'index.handler',
      runtime: 'nodejs24.x',
      asset: ['index.mjs', 'index.mjs.map', 'tracing.mjs', 'tracing.mjs.map'],
    });
  });
});

/** What each app writes: the constructs on the CDK side, the writer and a consumer in a function. */
const typedUse = (imports: string) => `${imports}

export class ServiceStack extends Stack {
  constructor(scope: App, id: string) {
    super(scope, id);
    const table = new TableV2(this, 'Table', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
    const outbox: TransactionalOutbox = new TransactionalOutbox(this, 'Outbox', {
      table,
      eventBus: new EventBus(this, 'Bus'),
      source: 'typed',
    });
    const fn: PowertoolsFunction = new PowertoolsFunction(this, 'Fn', { entry: 'handler.ts', serviceName: 'typed' });
    outbox.grantWrite(fn);
  }
}

export const writerType: typeof OutboxWriter = OutboxWriter;
export const consumerFactory: typeof createOutboxConsumer = createOutboxConsumer;
export const start: typeof startLocalRuntime = startLocalRuntime;
`;

const IMPORTS = `import { App, Stack } from 'aws-cdk-lib';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { PowertoolsFunction, TransactionalOutbox } from 'dynamodb-outbox';
import { createOutboxConsumer, OutboxWriter } from 'dynamodb-outbox/runtime';
import { startLocalRuntime } from 'dynamodb-outbox/local';`;

describe('the declarations', () => {
  it('type-check in a CommonJS and an ESM module of an app with the tsconfig cdk init writes', async () => {
    // Prepare: cdk init's compiler options (NodeNext), without its jest types.
    const project = mkdtempSync(join(appDir, 'typed-'));
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['es2022'],
          strict: true,
          noImplicitReturns: true,
          skipLibCheck: true,
          noEmit: true,
          isolatedModules: true,
          typeRoots: [NODE_TYPES],
          types: ['node'],
        },
      }),
    );
    writeFileSync(join(project, 'stack.cts'), typedUse(IMPORTS));
    writeFileSync(join(project, 'stack.mts'), typedUse(IMPORTS));
    symlinkSync(join(appDir, 'node_modules'), join(project, 'node_modules'), 'dir');

    // Act
    const result = await run(process.execPath, [TSC, '-p', project]).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );

    // Assess
    expect(result).toBe('');
  }, 60_000);
});
