import { ORDER_CANCELLED, ORDER_PLACED } from '../orders/events';

/**
 * Inventory reservations, the domain: which effect an order event has, given what was already
 * applied to that order. Pure functions, no SDK and no Lambda.
 *
 * EventBridge does not order events, so an order's events can arrive in any order and more than
 * once. Each order keeps one reservation record holding the highest `sequence` applied to it; an
 * event at or below that sequence is stale and changes nothing. So an `OrderCancelled` that
 * arrives before its `OrderPlaced` leaves a tombstone, and the late `OrderPlaced` reserves nothing.
 */

/**
 * A DynamoDB transaction holds at most 100 actions: the reservation record plus one item per sku.
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
 */
export const MAX_SKUS_PER_RESERVATION = 99;

export interface ReservedLine {
  readonly sku: string;
  readonly quantity: number;
}

export type InventoryEvent =
  | {
      readonly type: typeof ORDER_PLACED;
      readonly eventId: string;
      readonly orderId: string;
      readonly sequence: number;
      readonly lines: readonly ReservedLine[];
    }
  | {
      readonly type: typeof ORDER_CANCELLED;
      readonly eventId: string;
      readonly orderId: string;
      readonly sequence: number;
    };

/**
 * RESERVED: stock held for the order's lines. RELEASED: held, then given back on cancel.
 * CANCELLED: the cancel arrived first; nothing was ever held. REJECTED: the order could not be
 * reserved (recorded, with a reason, instead of being dropped).
 */
export type ReservationState = 'RESERVED' | 'RELEASED' | 'CANCELLED' | 'REJECTED';

export type Outcome =
  | 'reserved'
  | 'released'
  | 'cancelled-before-placed'
  | 'rejected'
  | 'nothing-to-release'
  | 'stale';

export interface Reservation {
  readonly orderId: string;
  readonly state: ReservationState;
  /** The highest event sequence applied to this order. */
  readonly sequence: number;
  /** The lines held (RESERVED) or once held (RELEASED); empty otherwise. */
  readonly lines: readonly ReservedLine[];
  /** The event that produced this state, and what it did: lets a retry see its own write. */
  readonly lastEventId: string;
  readonly lastOutcome: Outcome;
  readonly reason?: string;
}

/** What to write: the new reservation record, and the sku items to hold or give back. */
export interface Change {
  readonly next: Reservation;
  /** The sequence the record had when read; `undefined` when there was no record. */
  readonly expectedSequence: number | undefined;
  readonly reserve: readonly ReservedLine[];
  readonly release: readonly ReservedLine[];
}

export interface Decision {
  readonly outcome: Outcome;
  /** Absent when nothing must be written. */
  readonly change?: Change;
  /** A short reason for a rejected or stale event, for the log. */
  readonly reason?: string;
}

/** An event the domain cannot place in the order's history: never skipped silently. */
export class UnexpectedEventError extends Error {
  override readonly name = 'UnexpectedEventError';
}

/** Lines of the same sku are held together: a transaction may touch each item only once. */
export const mergeLines = (lines: readonly ReservedLine[]): ReservedLine[] => {
  const bySku = new Map<string, number>();
  for (const line of lines) bySku.set(line.sku, (bySku.get(line.sku) ?? 0) + line.quantity);
  return [...bySku].map(([sku, quantity]) => ({ sku, quantity }));
};

const recordOf = (
  event: InventoryEvent,
  state: ReservationState,
  outcome: Outcome,
  lines: readonly ReservedLine[],
  reason?: string,
): Reservation => ({
  orderId: event.orderId,
  state,
  sequence: event.sequence,
  lines,
  lastEventId: event.eventId,
  lastOutcome: outcome,
  ...(reason === undefined ? {} : { reason }),
});

const placed = (event: Extract<InventoryEvent, { type: typeof ORDER_PLACED }>): Decision => {
  const lines = mergeLines(event.lines);
  if (lines.length > MAX_SKUS_PER_RESERVATION) {
    const reason = `order has ${lines.length} distinct skus; at most ${MAX_SKUS_PER_RESERVATION} can be reserved atomically`;
    return {
      outcome: 'rejected',
      reason,
      change: {
        next: recordOf(event, 'REJECTED', 'rejected', [], reason),
        expectedSequence: undefined,
        reserve: [],
        release: [],
      },
    };
  }
  return {
    outcome: 'reserved',
    change: {
      next: recordOf(event, 'RESERVED', 'reserved', lines),
      expectedSequence: undefined,
      reserve: lines,
      release: [],
    },
  };
};

const cancelled = (event: InventoryEvent, current: Reservation | undefined): Decision => {
  if (current === undefined) {
    return {
      outcome: 'cancelled-before-placed',
      change: {
        next: recordOf(event, 'CANCELLED', 'cancelled-before-placed', []),
        expectedSequence: undefined,
        reserve: [],
        release: [],
      },
    };
  }
  if (current.state === 'RESERVED') {
    return {
      outcome: 'released',
      change: {
        next: recordOf(event, 'RELEASED', 'released', current.lines),
        expectedSequence: current.sequence,
        reserve: [],
        release: current.lines,
      },
    };
  }
  return {
    outcome: 'nothing-to-release',
    change: {
      next: recordOf(event, current.state, 'nothing-to-release', current.lines, current.reason),
      expectedSequence: current.sequence,
      reserve: [],
      release: [],
    },
  };
};

/**
 * Decide the effect of `event` on an order whose reservation record is `current`.
 * Throws `UnexpectedEventError` for an event that cannot follow the recorded history.
 */
export const decide = (current: Reservation | undefined, event: InventoryEvent): Decision => {
  if (current?.lastEventId === event.eventId) {
    // This event's own write already committed (a crash or a lost response after the commit).
    return { outcome: current.lastOutcome };
  }
  if (current !== undefined && current.sequence >= event.sequence) {
    return {
      outcome: 'stale',
      reason: `order is at sequence ${current.sequence} (${current.state}); event has ${event.sequence}`,
    };
  }
  if (event.type === ORDER_CANCELLED) return cancelled(event, current);
  if (current !== undefined) {
    throw new UnexpectedEventError(
      `${ORDER_PLACED} with sequence ${event.sequence} after sequence ${current.sequence} (${current.state})`,
    );
  }
  return placed(event);
};
