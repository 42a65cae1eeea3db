import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EMULATED_TYPES, NOT_EMULATED_TYPES } from '../../../packages/dynamodb-outbox/src/local/emulation';

/*
 * docs/offline.md shows what the runtime runs for each resource type. The tables are rendered
 * here from the objects the runtime checks templates against, and must appear in the doc as
 * rendered: change the runtime's tables and this test says which rows the doc must take.
 */

const cell = (text: string): string => text.replace(/\|/g, '\\|');
const code = (name: string): string => `\`${name}\``;

const renderEmulatedTable = (): string =>
  [
    '| Resource type | Emulator | Emulated properties | Not emulated (read past, and why) |',
    '| --- | --- | --- | --- |',
    ...Object.entries(EMULATED_TYPES).map(([type, support]) => {
      const ignored = Object.entries(support.ignored);
      return `| ${[
        code(type),
        cell(support.emulator),
        support.emulated.map(code).join(', '),
        ignored.length > 0
          ? ignored.map(([property, why]) => `${code(property)}: ${cell(why)}`).join('<br>')
          : '–',
      ].join(' | ')} |`;
    }),
  ].join('\n');

const renderNotEmulatedTable = (): string =>
  [
    '| Resource type | Why it has nothing to run offline |',
    '| --- | --- |',
    ...Object.entries(NOT_EMULATED_TYPES).map(([type, why]) => `| ${code(type)} | ${cell(why)} |`),
  ].join('\n');

const doc = readFileSync(new URL('../../../docs/offline.md', import.meta.url), 'utf8');

describe('docs/offline.md, "What the runtime runs"', () => {
  it.each([
    ['every emulated type, its properties and the ones read past', renderEmulatedTable],
    ['every type not emulated at all', renderNotEmulatedTable],
  ])('shows %s, as the runtime has it', (_, render) => {
    // Act
    const table = render();

    // Assess
    expect(doc).toContain(`\n${table}\n`);
  });
});
