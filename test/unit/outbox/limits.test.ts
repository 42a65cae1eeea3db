import { describe, expect, it } from 'vitest';
import { DEFAULT_PUT_EVENTS_LIMITS, limitsFromEnv, resolveLimits } from '../../../lambdas/outbox/limits';

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

  it('take PUTEVENTS_MAX_BYTES for both byte limits, up to 1 MiB', () => {
    const limits = resolveLimits(limitsFromEnv({ PUTEVENTS_MAX_BYTES: '262144' }));
    expect(limits.maxEntryBytes).toBe(262_144);
    expect(limits.maxCallBytes).toBe(262_144);
    expect(() => resolveLimits(limitsFromEnv({ PUTEVENTS_MAX_BYTES: '1048577' }))).toThrow(/maxCallBytes/);
    expect(() => limitsFromEnv({ PUTEVENTS_MAX_BYTES: '256KB' })).toThrow(/must be an integer/);
  });

  it('refuse what the API cannot accept', () => {
    expect(() => resolveLimits({ maxEntriesPerCall: 11 })).toThrow(/maxEntriesPerCall/);
    expect(() => resolveLimits({ maxEntriesPerCall: 0 })).toThrow(/maxEntriesPerCall/);
    expect(() => resolveLimits({ maxCallBytes: 262_144, maxEntryBytes: 300_000 })).toThrow(/maxEntryBytes/);
    expect(resolveLimits(limitsFromEnv({ PUTEVENTS_MAX_ENTRIES: '5' })).maxEntriesPerCall).toBe(5);
  });
});
