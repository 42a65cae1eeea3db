import { ConcurrentChangeError, type ReservationStore } from '../../../lambdas/inventory/reservation-store';
import type { Change, Reservation } from '../../../lambdas/inventory/reservations';

export { MemoryPersistenceLayer } from '../../../packages/dynamodb-outbox/test/unit/runtime/memory-persistence';

/** The reservation port in memory, with the store's conditional-write contract. */
export class MemoryReservationStore implements ReservationStore {
  readonly reservations = new Map<string, Reservation>();
  /** sku → orderId → quantity held. */
  readonly held = new Map<string, Map<string, number>>();
  commits = 0;

  async get(orderId: string): Promise<Reservation | undefined> {
    return this.reservations.get(orderId);
  }

  async commit(change: Change): Promise<void> {
    const current = this.reservations.get(change.next.orderId);
    if (current?.sequence !== change.expectedSequence) throw new ConcurrentChangeError('moved');
    this.commits++;
    this.reservations.set(change.next.orderId, change.next);
    for (const line of change.reserve) {
      const bySku = this.held.get(line.sku) ?? new Map<string, number>();
      bySku.set(change.next.orderId, line.quantity);
      this.held.set(line.sku, bySku);
    }
    for (const line of change.release) this.held.get(line.sku)?.delete(change.next.orderId);
  }

  heldQuantity(sku: string): number {
    let total = 0;
    for (const quantity of this.held.get(sku)?.values() ?? []) total += quantity;
    return total;
  }
}
