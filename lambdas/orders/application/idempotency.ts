import { createHash } from 'node:crypto';
import type { PlaceOrderCommand } from '../domain/order';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * Fingerprint of what a POST /orders asks for. Built from the validated command with a fixed field
 * order, so whitespace or key order in the JSON body does not make a retry look like a new request.
 */
export const requestHash = (command: PlaceOrderCommand): string =>
  createHash('sha256')
    .update(
      JSON.stringify([
        command.customerId,
        command.currency,
        command.lines.map((l) => [l.sku, l.quantity, l.unitPrice]),
      ]),
    )
    .digest('hex');

/**
 * The order id for an Idempotency-Key: 128 bits of SHA-256(scope, key) in the ULID alphabet, so a
 * retry computes the same id and its order Put fails `attribute_not_exists(PK)` instead of creating
 * a second order. The happy path needs no extra read or idempotency record. `scope` is the caller's
 * identity, so two callers choosing the same key never meet. The time part of such an id carries
 * no meaning.
 */
export const orderIdForKey = (scope: string, key: string): string => {
  const digest = createHash('sha256').update(scope).update('\n').update(key).digest();
  let value = digest.readBigUInt64BE(0) * 2n ** 64n + digest.readBigUInt64BE(8);
  let id = '';
  for (let i = 0; i < 26; i++) {
    id = CROCKFORD.charAt(Number(value % 32n)) + id;
    value /= 32n;
  }
  return id;
};
