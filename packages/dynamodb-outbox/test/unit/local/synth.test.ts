import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  assemblyStacks,
  cacheKey,
  failureDetail,
  parseContextArgs,
  readCdkApp,
  SynthError,
  synthesize,
  watchedFiles,
} from '../../../src/local/synth';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'outbox-synth-test-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const write = (path: string, content: string): void => {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), content);
};

const writeCdkJson = (cdkJson: Record<string, unknown>): void => write('cdk.json', JSON.stringify(cdkJson));

describe('parseContextArgs', () => {
  it.each([
    [['-c', 'stage=prod'], { stage: 'prod' }],
    [['--context', 'stage=prod'], { stage: 'prod' }],
    [['-c=stage=prod'], { stage: 'prod' }],
    [['--context=stage=prod'], { stage: 'prod' }],
    [['-c', 'kmsKeyArn=arn:aws:kms:x=y'], { kmsKeyArn: 'arn:aws:kms:x=y' }],
    [['-c', 'alarmEmail='], { alarmEmail: '' }],
    [['-c', 'a=1', '--context', 'b=2', '-c=a=3'], { a: '3', b: '2' }],
    [[], {}],
  ])('reads %j as %j', (args, expected) => {
    // Act
    const context = parseContextArgs(args);

    // Assess
    expect(context).toEqual(expected);
  });

  it.each([
    [['stage=prod'], 'Unknown argument stage=prod'],
    [['--stage', 'prod'], 'Unknown argument --stage'],
    [['-c', 'stage'], 'Context must be -c key=value, got "stage"'],
    [['-c', '=prod'], 'Context must be -c key=value, got "=prod"'],
    [['-c'], 'pass context as -c key=value'],
  ])('rejects %j: %s', (args, message) => {
    // Act
    const parsing = () => parseContextArgs(args);

    // Assess
    expect(parsing).toThrow(SynthError);
    expect(parsing).toThrow(message);
  });
});

describe('readCdkApp', () => {
  it("reads cdk.json's app command, context and watch.include, with overrides over the context", () => {
    // Prepare
    writeCdkJson({
      app: 'node bin/app.js',
      context: { stage: 'dev', logLevel: 'INFO' },
      watch: { include: ['bin', 'lib'] },
    });

    // Act
    const app = readCdkApp(dir, { stage: 'prod' });

    // Assess
    expect(app).toEqual({
      dir,
      command: 'node bin/app.js',
      context: { stage: 'prod', logLevel: 'INFO' },
      watch: {
        include: ['bin', 'lib'],
        // The CDK CLI's own exclusions: the assembly, dotfiles and dot-directories, node_modules.
        exclude: ['cdk.out/**', '**/.*', '**/.*/**', '**/node_modules/**'],
      },
    });
  });

  it('covers the whole directory without watch.include, and takes a command given instead of the app', () => {
    // Prepare
    writeCdkJson({ app: 'node bin/app.js', output: 'build/cdk', watch: { exclude: 'docs' } });

    // Act
    const app = readCdkApp(dir, {}, 'node other.js');

    // Assess
    expect(app).toMatchObject({ dir, command: 'node other.js', context: {} });
    expect(app.watch).toEqual({
      include: ['**'],
      exclude: ['docs', 'build/cdk/**', '**/.*', '**/.*/**', '**/node_modules/**'],
    });
  });

  it('fails with a SynthError without cdk.json, or without its app command', () => {
    // Prepare
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    writeCdkJson({ context: {} });

    // Act
    const withoutFile = () => readCdkApp(empty);
    const withoutApp = () => readCdkApp(dir);

    // Assess
    expect(withoutFile).toThrow(new SynthError(`No cdk.json in ${empty}`));
    expect(withoutApp).toThrow(new SynthError(`${join(dir, 'cdk.json')} has no "app" command`));
  });
});

describe('cacheKey', () => {
  beforeEach(() => {
    writeCdkJson({ app: 'node bin/app.js', context: { stage: 'dev' }, watch: { include: ['bin', 'lib'] } });
    write('bin/app.js', 'app');
    write('lib/stack.js', 'stack v1');
    write('lib/nested/construct.js', 'construct');
    write('docs/notes.md', 'notes');
  });

  it('is stable while nothing it covers changes', () => {
    // Prepare
    const before = cacheKey(readCdkApp(dir));
    write('docs/notes.md', 'notes, edited'); // outside watch.include
    write('lib/node_modules/dep/index.js', 'dependency'); // skipped
    write('lib/.local/synth/x', 'cache'); // skipped

    // Act
    const after = cacheKey(readCdkApp(dir));

    // Assess
    expect(after).toBe(before);
    expect(after).toMatch(/^[0-9a-f]{16}$/);
  });

  it('changes with the context', () => {
    // Prepare
    const base = cacheKey(readCdkApp(dir));

    // Act
    const overridden = cacheKey(readCdkApp(dir, { stage: 'prod' }));
    const added = cacheKey(readCdkApp(dir, { deliveryTracking: 'false' }));

    // Assess
    expect(overridden).not.toBe(base);
    expect(added).not.toBe(base);
    expect(added).not.toBe(overridden);
  });

  it("changes with a source file's content, also in a nested folder, and with a new source file", () => {
    // Prepare
    const base = cacheKey(readCdkApp(dir));

    // Act
    write('lib/stack.js', 'stack v2');
    const edited = cacheKey(readCdkApp(dir));
    write('lib/stack.js', 'stack v1');
    const restored = cacheKey(readCdkApp(dir));
    write('lib/nested/construct.js', 'construct v2');
    const nested = cacheKey(readCdkApp(dir));
    write('bin/extra.js', 'extra');
    const added = cacheKey(readCdkApp(dir));

    // Assess
    expect(edited).not.toBe(base);
    expect(restored).toBe(base);
    expect(nested).not.toBe(base);
    expect(added).not.toBe(nested);
  });

  it('reads watch.include ["**"] as every file, as `cdk init` writes it, not as a path', () => {
    // Prepare: what `cdk init app --language typescript` writes.
    writeCdkJson({
      app: 'npx tsc && npx tsx bin/app.ts',
      watch: {
        include: ['**'],
        exclude: [
          'README.md',
          'cdk*.json',
          '**/*.d.ts',
          '**/*.js',
          'tsconfig.json',
          'package*.json',
          'node_modules',
          'test',
        ],
      },
    });
    write('lib/stack.ts', 'stack v1');
    write('lib/stack.d.ts', 'declarations');
    write('test/stack.test.ts', 'test');
    write('README.md', 'readme');
    const base = cacheKey(readCdkApp(dir));

    // Act
    write('lib/stack.d.ts', 'declarations, emitted again');
    write('test/stack.test.ts', 'test, edited');
    write('README.md', 'readme, edited');
    write('.env', 'a dotfile');
    const excludedEdits = cacheKey(readCdkApp(dir));
    write('lib/stack.ts', 'stack v2');
    const sourceEdit = cacheKey(readCdkApp(dir));

    // Assess
    expect(excludedEdits).toBe(base);
    expect(sourceEdit).not.toBe(base);
    expect(watchedFiles(readCdkApp(dir)).map((file) => relative(dir, file))).toEqual([
      'docs/notes.md',
      'lib/stack.ts',
    ]);
  });

  it('selects with globs relative to the app directory, as `cdk watch` does', () => {
    // Prepare
    writeCdkJson({ app: 'node bin/app.js', watch: { include: ['lib/**/*.js'], exclude: ['lib/nested'] } });

    // Act
    const files = watchedFiles(readCdkApp(dir)).map((file) => relative(dir, file));

    // Assess
    expect(files).toEqual(['lib/stack.js']);
  });

  it('changes with cdk.json and with the app command', () => {
    // Prepare
    const base = cacheKey(readCdkApp(dir));

    // Act
    const otherCommand = cacheKey(readCdkApp(dir, {}, 'node bin/other.js'));
    writeCdkJson({
      app: 'node bin/app.js',
      context: { stage: 'dev' },
      watch: { include: ['bin', 'lib'] },
      notices: false,
    });
    const editedCdkJson = cacheKey(readCdkApp(dir));

    // Assess
    expect(otherCommand).not.toBe(base);
    expect(editedCdkJson).not.toBe(base);
  });
});

/**
 * A stand-in for a CDK app: writes a cloud assembly with one stack into CDK_OUTDIR, the template
 * carrying the context it was given, or fails as `node app.mjs fail` when asked to.
 */
const FAKE_APP = `
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
if (process.argv[2] === 'fail') {
  console.error('Error: stage must be one of dev, prod');
  process.exit(1);
}
const out = process.env.CDK_OUTDIR;
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'Orders.template.json'), JSON.stringify({ context: JSON.parse(process.env.CDK_CONTEXT_JSON) }));
writeFileSync(join(out, 'manifest.json'), JSON.stringify({ version: '48.0.0', artifacts: {
  Tree: { type: 'cdk:tree', properties: { file: 'tree.json' } },
  Orders: { type: 'aws:cloudformation:stack', properties: { templateFile: 'Orders.template.json' }, displayName: 'Orders' },
} }));
`;

describe('synthesize', () => {
  beforeEach(() => {
    write('app.mjs', FAKE_APP);
    writeCdkJson({ app: 'node app.mjs', context: { stage: 'dev' }, watch: { include: ['app.mjs'] } });
  });

  it('runs the app with its context, bundling skipped, and reuses the assembly while the key is unchanged', async () => {
    // Prepare
    const app = readCdkApp(dir, { stage: 'prod' });
    const cacheDir = join(dir, 'cache');
    const synthStarts: string[] = [];
    const onSynthStart = () => synthStarts.push('started');

    // Act
    const first = await synthesize(app, { cacheDir, onSynthStart });
    const second = await synthesize(app, { cacheDir, onSynthStart });

    // Assess
    expect(first).toMatchObject({ outdir: join(cacheDir, cacheKey(app)), cached: false });
    expect(second).toMatchObject({ outdir: first.outdir, cached: true });
    expect(synthStarts).toEqual(['started']);
    const stacks = assemblyStacks(first.outdir);
    expect([...stacks.keys()]).toEqual(['Orders']);
    const template = JSON.parse(readFileSync(stacks.get('Orders') ?? '', 'utf8')) as { context: unknown };
    expect(template.context).toEqual({
      stage: 'prod',
      'aws:cdk:bundling-stacks': [],
      'aws:cdk:enable-path-metadata': true,
      'aws:cdk:enable-asset-metadata': true,
      'aws:cdk:disable-version-reporting': true,
    });
  });

  it('caches under <app dir>/.local/synth by default', async () => {
    // Prepare
    const app = readCdkApp(dir);

    // Act
    const synthesized = await synthesize(app);

    // Assess
    expect(synthesized.outdir).toBe(join(dir, '.local', 'synth', cacheKey(app)));
  });

  it('keeps what a failed synthesis printed from its first error on: every cdk-nag finding stays readable', () => {
    // Prepare
    const findings = Array.from({ length: 12 }, (_, i) => `  AwsSolutions-IAM5[${i}]: finding ${i}`);
    const stderr = ['Synthesizing…', 'Validation failed with the following errors:', ...findings, ''].join(
      '\n',
    );

    // Act
    const detail = failureDetail(stderr);

    // Assess
    expect(detail.split('\n')).toEqual(['Validation failed with the following errors:', ...findings]);
    expect(failureDetail('one\ntwo\nthree\nfour\nfive\nsix')).toBe('two\nthree\nfour\nfive\nsix');
  });

  it('fails with a SynthError carrying the end of what the app printed, and leaves no partial assembly', async () => {
    // Prepare
    const app = readCdkApp(dir, {}, 'node app.mjs fail');
    const cacheDir = join(dir, 'cache');

    // Act
    const synthesizing = synthesize(app, { cacheDir });

    // Assess
    await expect(synthesizing).rejects.toThrow(SynthError);
    await expect(synthesizing).rejects.toThrow(
      'The CDK app (node app.mjs fail) did not synthesize (exit 1):\nError: stage must be one of dev, prod',
    );
    expect(readdirSync(cacheDir)).toEqual([]);
  });
});
