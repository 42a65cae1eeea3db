import { type ORDER_CANCELLED, ORDER_PLACED, type ORDER_REJECTED } from '../orders/events';
import {
  STOCK_REJECTED,
  STOCK_RELEASED,
  STOCK_RESERVED,
  type StockRejectedPayload,
  type StockRejectionReason,
  type StockReleasedPayload,
  type StockReservedPayload,
} from './events';
import { MAX_DISTINCT_SKUS } from './limits';

/**
 * Inventory reservations, the domain: what an order event does to the order's reservation and to
 * the stock, and how inventory answers. Pure functions, no SDK and no Lambda.
 *
 * EventBridge does not order events, so an order's events can arrive in any order. Each order
 * keeps one reservation record holding the highest `sequence` applied to it; an event at or below
 * it is stale and changes nothing. So an `OrderCancelled` or `OrderRejected` that arrives before
 * its `OrderPlaced` leaves a tombstone (CLOSED), and the late `OrderPlaced` reserves nothing.
 * Duplicates never reach this code: the transactional consumer's inbox acknowledges them.
 */

/**
 * The catalogue every inventory starts from: `SKU-1` … `SKU-100`, 1,000 units each. A catalogue
 * SKU without a stock record has all of them: its record is written by its first reservation (or
 * by setting its stock), so a fresh table needs no seeding step, offline or deployed.
 */
export const CATALOGUE_STOCK = 1000;
export const isCatalogueSku = (sku: string): boolean => /^SKU-([1-9][0-9]?|100)$/.test(sku);

export interface ReservedLine {
  readonly sku: string;
  readonly quantity: number;
}

interface EventBase {
  readonly eventId: string;
  readonly orderId: string;
  readonly sequence: number;
  readonly correlationId?: string;
}

export type InventoryEvent =
  | (EventBase & { readonly type: typeof ORDER_PLACED; readonly lines: readonly ReservedLine[] })
  | (EventBase & { readonly type: typeof ORDER_CANCELLED | typeof ORDER_REJECTED });

/**
 * RESERVED: stock held for the order's lines. RELEASED: held, then given back (the order was
 * cancelled or rejected). REJECTED: the order could not be reserved; nothing held. CLOSED: the
 * order was cancelled or rejected before its placement arrived; nothing will ever be held.
 */
export const RESERVATION_STATES = ['RESERVED', 'RELEASED', 'REJECTED', 'CLOSED'] as const;
export type ReservationState = (typeof RESERVATION_STATES)[number];

export interface Reservation {
  readonly orderId: string;
  readonly state: ReservationState;
  /** The highest order event sequence applied to this order. */
  readonly sequence: number;
  /** The lines held (RESERVED) or once held (RELEASED); empty otherwise. */
  readonly lines: readonly ReservedLine[];
  /** How many events inventory emitted about this reservation: the sequence of the last one. */
  readonly version: number;
}

/** Units available per SKU, as read; a SKU without a stock record is absent. */
export type StockLevels = ReadonlyMap<string, number>;

/**
 * A stock change: `take` from a record read with at least `quantity` available, `take` from a
 * catalogue SKU that has no record yet (`fromCatalogue`), or `give` back.
 */
export type StockChange =
  | {
      readonly kind: 'take';
      readonly sku: string;
      readonly quantity: number;
      readonly fromCatalogue: boolean;
    }
  | { readonly kind: 'give'; readonly sku: string; readonly quantity: number };

export type Answer =
  | { readonly eventType: typeof STOCK_RESERVED; readonly payload: StockReservedPayload }
  | { readonly eventType: typeof STOCK_REJECTED; readonly payload: StockRejectedPayload }
  | { readonly eventType: typeof STOCK_RELEASED; readonly payload: StockReleasedPayload };

export type Outcome =
  | 'reserved'
  | 'rejected'
  | 'released'
  | 'closed-before-placed'
  | 'nothing-to-release'
  | 'stale';

export interface Decision {
  readonly outcome: Outcome;
  /** The reservation record to write, and the sequence it had when read (`undefined`: there was none). */
  readonly record?: { readonly next: Reservation; readonly expectedSequence: number | undefined };
  readonly stock: readonly StockChange[];
  /** The event inventory emits, with sequence `record.next.version`. */
  readonly answer?: Answer;
  /** Why an order was rejected, or an event was stale: for the log. */
  readonly reason?: string;
}

/** Lines of the same SKU are held together: a transaction may touch each item only once. */
export const mergeLines = (lines: readonly ReservedLine[]): ReservedLine[] => {
  const bySku = new Map<string, number>();
  for (const line of lines) bySku.set(line.sku, (bySku.get(line.sku) ?? 0) + line.quantity);
  return [...bySku].map(([sku, quantity]) => ({ sku, quantity }));
};

/** Why `lines` cannot be reserved from `stock`, or undefined when they can. */
const refusal = (
  lines: readonly ReservedLine[],
  stock: StockLevels,
): { reason: StockRejectionReason; message: string } | undefined => {
  if (lines.length > MAX_DISTINCT_SKUS)
    return {
      reason: 'too-many-lines',
      message: `the order names ${lines.length} distinct skus; at most ${MAX_DISTINCT_SKUS} can be reserved in one transaction`,
    };
  const unknown = lines.filter(({ sku }) => !stock.has(sku) && !isCatalogueSku(sku)).map(({ sku }) => sku);
  if (unknown.length > 0) return { reason: 'unknown-sku', message: `unknown skus: ${unknown.join(', ')}` };
  const short = lines.flatMap(({ sku, quantity }) => {
    const available = stock.get(sku) ?? CATALOGUE_STOCK;
    return available < quantity ? [`${sku} (${quantity} wanted, ${available} available)`] : [];
  });
  if (short.length > 0)
    return { reason: 'insufficient-stock', message: `not enough stock: ${short.join(', ')}` };
  return undefined;
};

const placed = (
  event: Extract<InventoryEvent, { type: typeof ORDER_PLACED }>,
  stock: StockLevels,
): Decision => {
  const lines = mergeLines(event.lines);
  const { orderId, sequence } = event;
  const refused = refusal(lines, stock);
  if (refused !== undefined)
    return {
      outcome: 'rejected',
      reason: refused.message,
      record: {
        next: { orderId, state: 'REJECTED', sequence, lines: [], version: 1 },
        expectedSequence: undefined,
      },
      stock: [],
      answer: { eventType: STOCK_REJECTED, payload: { orderId, ...refused } },
    };
  return {
    outcome: 'reserved',
    record: {
      next: { orderId, state: 'RESERVED', sequence, lines, version: 1 },
      expectedSequence: undefined,
    },
    stock: lines.map(({ sku, quantity }) => ({
      kind: 'take',
      sku,
      quantity,
      fromCatalogue: !stock.has(sku),
    })),
    answer: { eventType: STOCK_RESERVED, payload: { orderId, lines } },
  };
};

const closed = (event: InventoryEvent, current: Reservation | undefined): Decision => {
  const { orderId, sequence } = event;
  if (current === undefined)
    return {
      outcome: 'closed-before-placed',
      record: {
        next: { orderId, state: 'CLOSED', sequence, lines: [], version: 0 },
        expectedSequence: undefined,
      },
      stock: [],
    };
  if (current.state !== 'RESERVED') return { outcome: 'nothing-to-release', stock: [] };
  const version = current.version + 1;
  return {
    outcome: 'released',
    record: {
      next: { ...current, state: 'RELEASED', sequence, version },
      expectedSequence: current.sequence,
    },
    stock: current.lines.map(({ sku, quantity }) => ({ kind: 'give', sku, quantity })),
    answer: { eventType: STOCK_RELEASED, payload: { orderId, lines: [...current.lines] } },
  };
};

/**
 * Decide the effect of `event` on an order whose reservation record is `current`, given the
 * `stock` of the SKUs it names (read for an `OrderPlaced` only).
 */
export const decide = (
  current: Reservation | undefined,
  stock: StockLevels,
  event: InventoryEvent,
): Decision => {
  if (current !== undefined && current.sequence >= event.sequence)
    return {
      outcome: 'stale',
      stock: [],
      reason: `order is at sequence ${current.sequence} (${current.state}); event has ${event.sequence}`,
    };
  if (event.type === ORDER_PLACED) return placed(event, stock);
  return closed(event, current);
};
