#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The `dynamodb-outbox` bin: `local` runs the CDK app of this directory offline, `invoke` calls
 * one of its functions, `status`, `redrive` and `replay` operate an outbox (./main, where tests
 * call them), `capacity` works out the settings for a rate (./capacity). Each command loads only
 * what it needs: `status` never starts the runtime's parts.
 */

/** This package's version, from the nearest package.json above this file (sources or build). */
const version = (): string => {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'dynamodb-outbox') return manifest.version ?? 'unknown';
    }
    if (dirname(dir) === dir) return 'unknown';
  }
};

const [command, ...rest] = process.argv.slice(2);
if (command === '--version' || command === '-v') console.log(version());
else if (command === 'local') await (await import('../local/start.js')).runLocal(rest);
else if (command === 'invoke') process.exitCode = await (await import('./invoke.js')).runInvoke(rest);
else if (command === 'capacity') process.exitCode = await (await import('./capacity.js')).runCapacity(rest);
else process.exitCode = await (await import('./main.js')).runOutbox(process.argv.slice(2));
