import { describe, expect, it } from 'vitest';
import { DEFAULT_PUT_EVENTS_LIMITS, MAX_PUT_EVENTS_BYTES, resolveLimits } from '../../../src/runtime/limits';

describe('PutEvents limits', () => {
  it('default to 10 entries and 1 MiB per entry and per call', () => {
    expect(resolveLimits()).toEqual(DEFAULT_PUT_EVENTS_LIMITS);
    expect(DEFAULT_PUT_EVENTS_LIMITS).toMatchObject({
      maxEntriesPerCall: 10,
      maxEntryBytes: 1_048_576,
      maxCallBytes: 1_048_576,
      maxDetailTypeLength: 128,
    });
  });

  it('take both byte limits up to 1 MiB, and not one byte more', () => {
    // Act
    const limits = resolveLimits({ maxEntryBytes: MAX_PUT_EVENTS_BYTES, maxCallBytes: MAX_PUT_EVENTS_BYTES });
    // Assess
    expect(MAX_PUT_EVENTS_BYTES).toBe(1_048_576);
    expect(limits.maxEntryBytes).toBe(1_048_576);
    expect(limits.maxCallBytes).toBe(1_048_576);
    expect(() => resolveLimits({ maxCallBytes: MAX_PUT_EVENTS_BYTES + 1 })).toThrow(
      'PutEvents limit maxCallBytes must be an integer from 1 to 1048576, got 1048577',
    );
    expect(() => resolveLimits({ maxCallBytes: 1.5 })).toThrow(/maxCallBytes must be an integer/);
  });

  it('can be lowered to the old 256 KiB for a bus that does not take 1 MB events', () => {
    // Act
    const limits = resolveLimits({ maxEntryBytes: 262_144, maxCallBytes: 262_144 });
    // Assess
    expect(limits.maxEntryBytes).toBe(262_144);
    expect(limits.maxCallBytes).toBe(262_144);
  });

  it('refuse what the API cannot accept', () => {
    expect(() => resolveLimits({ maxEntriesPerCall: 11 })).toThrow(/maxEntriesPerCall/);
    expect(() => resolveLimits({ maxEntriesPerCall: 0 })).toThrow(/maxEntriesPerCall/);
    // An entry can never be larger than the call that carries it.
    expect(() => resolveLimits({ maxCallBytes: 262_144, maxEntryBytes: 300_000 })).toThrow(/maxEntryBytes/);
    expect(() => resolveLimits({ maxEntryBytes: MAX_PUT_EVENTS_BYTES + 1 })).toThrow(/maxEntryBytes/);
    expect(resolveLimits({ maxEntriesPerCall: 5 }).maxEntriesPerCall).toBe(5);
  });
});
