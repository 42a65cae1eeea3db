import {
  IdempotencyItemAlreadyExistsError,
  IdempotencyItemNotFoundError,
} from '@aws-lambda-powertools/idempotency';
import { BasePersistenceLayer, type IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import { ConcurrentChangeError, type ReservationStore } from '../../../lambdas/inventory/reservation-store';
import type { Change, Reservation } from '../../../lambdas/inventory/reservations';

/** Powertools persistence in a Map, with the same put-if-absent-or-expired rule as the DynamoDB layer. */
export class MemoryPersistenceLayer extends BasePersistenceLayer {
  readonly records = new Map<string, IdempotencyRecord>();

  protected async _putRecord(record: IdempotencyRecord): Promise<void> {
    const existing = this.records.get(record.idempotencyKey);
    if (existing !== undefined && !existing.isExpired()) {
      throw new IdempotencyItemAlreadyExistsError('exists', existing);
    }
    this.records.set(record.idempotencyKey, record);
  }

  protected async _getRecord(idempotencyKey: string): Promise<IdempotencyRecord> {
    const record = this.records.get(idempotencyKey);
    if (record === undefined) throw new IdempotencyItemNotFoundError();
    return record;
  }

  protected async _updateRecord(record: IdempotencyRecord): Promise<void> {
    this.records.set(record.idempotencyKey, record);
  }

  protected async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    this.records.delete(record.idempotencyKey);
  }
}

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
