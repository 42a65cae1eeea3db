import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

/** The text of a markdown section, from its heading to the next heading of the same level. */
const section = (markdown: string, heading: string): string => {
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`no "${heading}" section`);
  const level = heading.split(' ')[0] ?? '';
  const end = markdown.indexOf(`\n${level} `, start + heading.length + 2);
  return markdown.slice(start, end < 0 ? undefined : end);
};

/**
 * The steps of .ci/run as a reader would name them: `npm ci`, `node .ci/supply-chain.mjs`,
 * `npm test`, `npm run <script> -- <first flag>`.
 */
const ciSteps = (): string[] =>
  read('.ci/run')
    .split('\n')
    .map((line) => /^(npm (?:ci|test|run \S+(?: -- --[\w-]+)?)|node \S+)/.exec(line)?.[1])
    .filter((step): step is string => step !== undefined);

describe('what the docs say CI does', () => {
  it('finds the steps of .ci/run', () => {
    expect(ciSteps()).toEqual([
      'npm ci',
      'node .ci/supply-chain.mjs',
      'npm test',
      'npm run synth -- --quiet',
      'npm run bench -- --quick',
    ]);
  });

  it.each([
    ['README.md', '## Scripts'],
    ['docs/security.md', '## CI'],
  ])('%s (%s) names every step', (path, heading) => {
    const text = section(read(path), heading).replace(/\s+/g, ' ');

    for (const step of ciSteps()) expect(text).toContain(`\`${step}\``);
  });

  it("docs/security.md's supply-chain output counts what package.json and package-lock.json hold", () => {
    // The same selection as .ci/supply-chain.mjs: every lockfile package npm downloads.
    const lock = JSON.parse(read('package-lock.json')) as {
      packages: Record<string, { link?: boolean; inBundle?: boolean; dev?: boolean }>;
    };
    const downloaded = Object.entries(lock.packages).filter(
      ([path, entry]) => path.includes('node_modules/') && !entry.link && !entry.inBundle,
    );
    const production = downloaded.filter(([, entry]) => !entry.dev).length;
    const direct = Object.keys(
      (JSON.parse(read('package.json')) as { dependencies: Record<string, string> }).dependencies,
    ).length;

    expect(read('docs/security.md')).toContain(
      `Supply chain OK: ${direct} direct production dependencies pinned, ${downloaded.length} lockfile packages (${production} production)`,
    );
  });
});
