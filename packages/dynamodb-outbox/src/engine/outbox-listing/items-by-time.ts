/** One page of a minute partition's outbox items, in write order. */
export interface ItemsPage {
  readonly items: Record<string, unknown>[];
  readonly nextKey?: Record<string, unknown>;
}

/**
 * Where a minute's outbox items are listed in write order: by a time-ordered table's own key
 * (`byTableKey`), or by a same table's sparse time index (`byTimeIndex`). `listingFor` picks one.
 */
export interface ItemsByTime {
  /** Items of `partition` (`<minute>#<shard>`) written before `before` (ISO-8601), oldest first. */
  page(
    partition: string,
    before: string,
    limit: number,
    startKey?: Record<string, unknown>,
  ): Promise<ItemsPage>;
}
