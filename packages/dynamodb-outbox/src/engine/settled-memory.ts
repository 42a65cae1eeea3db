import { describeKey, type OutboxKey } from '../runtime/layout.js';

/**
 * Outbox items kept per container by default. An entry is one key string (~60 bytes) in a Map, so
 * 10,000 of them take about 1 MB of the function's memory, and cover 100 full batches of 100: far
 * more than a retried batch ever reaches back.
 */
export const DEFAULT_SETTLED_MEMORY_SIZE = 10_000;

export type SettledState = 'settled' | 'unsettled';

/**
 * What this container knows about outbox items, bounded, least recently used out first:
 * `settled` (EventBridge accepted it, or the poison queue took it) or `unsettled` (delivery
 * tracking was asked and had no mark, so there is no need to ask again; only this container's
 * own publish settles it later). Lost with the container: then delivery tracking answers.
 */
export class SettledMemory {
  private readonly entries = new Map<string, SettledState>();

  constructor(readonly capacity: number = DEFAULT_SETTLED_MEMORY_SIZE) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`SettledMemory capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  stateOf(key: OutboxKey): SettledState | undefined {
    return this.entries.get(idOf(key));
  }

  remember(keys: readonly OutboxKey[], state: SettledState): void {
    for (const key of keys) {
      const id = idOf(key);
      // Delete first so the entry moves to the most recent end of the Map's insertion order.
      this.entries.delete(id);
      this.entries.set(id, state);
    }
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.capacity) break;
      this.entries.delete(oldest);
    }
  }
}

const idOf = (key: OutboxKey): string => describeKey(key) ?? '';
