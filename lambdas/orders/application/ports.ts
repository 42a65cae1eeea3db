import type { DomainEvent, Order, OrderStatus } from '../domain/order';

/** An order as stored, with the fingerprint of the request that created it (if it had a key). */
export interface StoredOrder extends Order {
  /** SHA-256 of the normalized POST /orders body; present only for orders placed with an Idempotency-Key. */
  readonly requestHash?: string;
}

/** One write of a unit of work. All the writes of one `commit` succeed or fail together. */
export type Change =
  | { readonly type: 'insertOrder'; readonly order: StoredOrder }
  | {
      readonly type: 'updateOrder';
      readonly order: Order;
      /** Optimistic concurrency: the write applies only if the stored order still has these. */
      readonly expected: { readonly version: number; readonly status: OrderStatus };
    }
  | { readonly type: 'appendEvent'; readonly event: DomainEvent };

/**
 * The write path's only port to storage. `commit` issues exactly one atomic write (a
 * TransactWriteItems on DynamoDB), so an order never exists without its event.
 */
export interface OrderStore {
  /** Strongly consistent read; undefined when there is no such order. */
  get(orderId: string): Promise<StoredOrder | undefined>;
  /**
   * @throws ChangeRejectedError when a change's condition does not hold (nothing is written)
   * @throws ConcurrentWriteError when another transaction touched the same items (nothing is written; retryable)
   * @throws StoreBusyError when the store throttles (nothing is written; retryable)
   */
  commit(changes: readonly Change[]): Promise<void>;
}

export interface Clock {
  /** ISO-8601 UTC timestamp. */
  now(): string;
}

export interface IdGenerator {
  /** A new ULID. */
  next(): string;
}

/** A change's condition failed; `current` is the stored order when the store could return it. */
export class ChangeRejectedError extends Error {
  constructor(
    readonly changeIndex: number,
    readonly current?: StoredOrder,
  ) {
    super(`Change ${changeIndex} of the unit of work was rejected by its condition`);
    this.name = 'ChangeRejectedError';
  }
}

export class ConcurrentWriteError extends Error {
  constructor(options?: ErrorOptions) {
    super('Another write to the same order was in progress', options);
    this.name = 'ConcurrentWriteError';
  }
}

export class StoreBusyError extends Error {
  constructor(options?: ErrorOptions) {
    super('The order store is throttling requests', options);
    this.name = 'StoreBusyError';
  }
}
