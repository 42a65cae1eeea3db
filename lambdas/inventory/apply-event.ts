import { ConcurrentChangeError, type ReservationStore } from './reservation-store';
import { decide, type InventoryEvent, type Outcome } from './reservations';

/** What one event did. Stored by the idempotency layer and returned again for its duplicates. */
export interface EventResult {
  readonly eventId: string;
  readonly orderId: string;
  readonly sequence: number;
  readonly outcome: Outcome;
  readonly reason?: string;
}

/**
 * Two deliveries of the same order racing (a cancel and its place, say) lose at most a few
 * rounds to each other; past this, fail the invocation and let the platform retry later.
 */
export const MAX_ATTEMPTS = 5;

/**
 * Read the order's reservation, decide, write conditionally on what was read; on a concurrent
 * change, read again. The condition makes read-decide-write safe without locks.
 */
export const applyInventoryEvent = async (
  store: ReservationStore,
  event: InventoryEvent,
): Promise<EventResult> => {
  let lastConflict: ConcurrentChangeError | undefined;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const decision = decide(await store.get(event.orderId), event);
    const result: EventResult = {
      eventId: event.eventId,
      orderId: event.orderId,
      sequence: event.sequence,
      outcome: decision.outcome,
      ...(decision.reason === undefined ? {} : { reason: decision.reason }),
    };
    if (decision.change === undefined) return result;
    try {
      await store.commit(decision.change);
      return result;
    } catch (error) {
      if (!(error instanceof ConcurrentChangeError)) throw error;
      lastConflict = error;
    }
  }
  throw new Error(`order ${event.orderId}: still contended after ${MAX_ATTEMPTS} attempts`, {
    cause: lastConflict,
  });
};
