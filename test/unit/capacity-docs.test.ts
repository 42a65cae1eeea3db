import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { capacityPlanOf, limitsTable } from '../../packages/dynamodb-outbox/src/cli/capacity';
import {
  bindingLimit,
  capacityLimits,
  DEFAULT_CAPACITY_SETTINGS,
  LARGEST_CAPACITY_SETTINGS,
} from '../../packages/dynamodb-outbox/src/cli/capacity-model';

/*
 * docs/capacity.md and `dynamodb-outbox capacity` agree: the page's tables are the CLI's own
 * output for the defaults and the largest settings, recomputed here, and the ceilings the page and
 * the README state in words are the binding limits of those tables.
 */

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const CAPACITY = read('docs/capacity.md');
const README = read('README.md');

/** The text between `<!-- capacity:<name> -->` and its closing marker. */
const block = (name: string): string => {
  const open = `<!-- capacity:${name} -->\n`;
  const start = CAPACITY.indexOf(open);
  const end = CAPACITY.indexOf(`\n<!-- /capacity:${name} -->`);
  if (start < 0 || end < start) throw new Error(`docs/capacity.md has no capacity:${name} block`);
  return CAPACITY.slice(start + open.length, end);
};

const thousands = (n: number) => Math.floor(n).toLocaleString('en-US');

describe('docs/capacity.md and the capacity command', () => {
  it("holds the command's table of the defaults' limits", () => {
    expect(block('defaults')).toBe(limitsTable(capacityLimits(DEFAULT_CAPACITY_SETTINGS)));
  });

  it("holds the command's table of the largest settings' limits", () => {
    expect(block('largest')).toBe(limitsTable(capacityLimits(LARGEST_CAPACITY_SETTINGS)));
  });

  it('names the binding limit of the defaults, as the README does, and as the command prints it', () => {
    const binding = bindingLimit(capacityLimits(DEFAULT_CAPACITY_SETTINGS));
    expect(binding.name).toBe('outbox write partitions');
    expect(CAPACITY).toContain(
      `Binding: the ${binding.name}, ${thousands(binding.ceiling)} events a second.`,
    );
    expect(README).toContain(
      `The defaults carry about **${thousands(binding.ceiling)} one-KB events a second**`,
    );
    const plan = capacityPlanOf({ 'events-per-second': '1000' });
    expect(plan.settings).toEqual(DEFAULT_CAPACITY_SETTINGS);
    expect(plan.binding).toEqual(binding);
  });

  it("states the receipts' ceiling at full batches of 100 as the table has it", () => {
    const receipts = capacityLimits(DEFAULT_CAPACITY_SETTINGS).find((limit) =>
      limit.name.startsWith('receipts'),
    );
    expect(receipts?.ceiling).toBe(12_500);
    expect(README).toContain('past about 12,500 events a second the relay');
    expect(CAPACITY).toContain('8 units, 0.08 an event: **12,500**');
  });
});
