import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Application, TSConfigReader, TypeDocReader } from 'typedoc';
import { expect, it } from 'vitest';

const COMMITTED = 'docs/api';

/** Every file under `dir`, by its path relative to `dir`, with its content. */
const filesUnder = async (dir: string): Promise<Record<string, string>> => {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files: Record<string, string> = {};
  for (const entry of entries.filter((e) => e.isFile())) {
    const path = join(entry.parentPath, entry.name);
    files[relative(dir, path)] = await readFile(path, 'utf8');
  }
  return files;
};

// The API reference is generated from the doc comments (typedoc.json): a change to a public
// export's signature or comment without `npm run docs` fails here, so the reference never drifts.
it('docs/api is what `npm run docs` generates from the sources', async () => {
  // Prepare
  const out = await mkdtemp(join(tmpdir(), 'outbox-api-docs-'));
  try {
    const app = await Application.bootstrapWithPlugins({ out, logLevel: 'Error' }, [
      new TypeDocReader(),
      new TSConfigReader(),
    ]);
    // Act
    const project = await app.convert();
    if (!project) throw new Error('TypeDoc could not convert the entry points');
    await app.generateOutputs(project);
    // Assess
    expect(await filesUnder(out), 'docs/api is stale: run `npm run docs`').toEqual(
      await filesUnder(COMMITTED),
    );
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}, 60_000);
