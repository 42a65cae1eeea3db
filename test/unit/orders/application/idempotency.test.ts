import { describe, expect, it } from 'vitest';
import { orderIdForKey, requestHash } from '../../../../lambdas/orders/application/idempotency';
import { isOrderId } from '../../../../lambdas/orders/domain/order-id';
import body from '../fixtures/place-order-body.json';

describe('idempotency', () => {
  it('derives the same valid order id from the same key and scope', () => {
    // Act
    const first = orderIdForKey('anonymous', 'key-1');
    const second = orderIdForKey('anonymous', 'key-1');

    // Assess
    expect(first).toBe(second);
    expect(isOrderId(first)).toBe(true);
  });

  it('derives different ids for different keys and for different callers using one key', () => {
    const ids = new Set([
      orderIdForKey('anonymous', 'key-1'),
      orderIdForKey('anonymous', 'key-2'),
      orderIdForKey('iam:arn:aws:iam::123456789012:user/alice', 'key-1'),
    ]);
    expect(ids.size).toBe(3);
  });

  it('hashes the meaning of a request, not its JSON spelling', () => {
    // Prepare
    const reordered = JSON.parse(
      '{"lines":[{"unitPrice":1250,"quantity":2,"sku":"BOOK-1"},{"unitPrice":199,"sku":"PEN-7","quantity":1}],' +
        '"currency":"EUR","customerId":"customer-42"}',
    );

    // Act / Assess
    expect(requestHash(reordered)).toBe(requestHash(body));
    expect(requestHash({ ...body, currency: 'USD' })).not.toBe(requestHash(body));
    expect(requestHash(body)).toMatch(/^[0-9a-f]{64}$/);
  });
});
