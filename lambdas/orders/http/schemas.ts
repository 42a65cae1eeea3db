import { MAX_DISTINCT_SKUS } from '../../inventory/limits';
import * as z from '../../zod';
import { isCurrency } from '../domain/currency';
import { ORDER_ID_PATTERN } from '../domain/order-id';
import { textField } from './text-field';

/** Request limits. The 64 KiB body limit is enforced by the handler, in Lambda and offline alike. */
export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_LINES = 100;
export const MAX_QUANTITY = 1000;
/** Per unit, in minor units: keeps the largest possible total (100 × 1000 × this) a safe integer. */
export const MAX_UNIT_PRICE = 1_000_000_000;

const IDENTIFIER = /^[A-Za-z0-9._:-]+$/;

export const orderLineInputSchema = z.strictObject({
  sku: textField('sku').check(
    z.minLength(1, 'sku must not be empty'),
    z.maxLength(64, 'sku must be at most 64 characters'),
    z.regex(IDENTIFIER, 'sku may contain only letters, digits and . _ : -'),
  ),
  quantity: z
    .number({ error: 'quantity must be a number' })
    .check(
      z.int('quantity must be an integer'),
      z.minimum(1, 'quantity must be at least 1'),
      z.maximum(MAX_QUANTITY, `quantity must be at most ${MAX_QUANTITY}`),
    ),
  unitPrice: z
    .number({ error: 'unitPrice must be a number' })
    .check(
      z.int('unitPrice must be an integer number of minor units (cents)'),
      z.minimum(0, 'unitPrice must not be negative'),
      z.maximum(MAX_UNIT_PRICE, `unitPrice must be at most ${MAX_UNIT_PRICE}`),
    ),
});

/** POST /orders body. Strict: an unknown (often misspelled) field is an error, not silently dropped. */
export const placeOrderBodySchema = z.strictObject(
  {
    customerId: textField('customerId').check(
      z.minLength(1, 'customerId must not be empty'),
      z.maxLength(128, 'customerId must be at most 128 characters'),
      z.regex(IDENTIFIER, 'customerId may contain only letters, digits and . _ : -'),
    ),
    currency: textField('currency').check(
      z.refine(isCurrency, 'currency must be an ISO 4217 code in upper case, such as EUR or USD'),
    ),
    lines: z.array(orderLineInputSchema, { error: 'lines must be an array' }).check(
      z.minLength(1, 'lines must contain at least one line'),
      z.maxLength(MAX_LINES, `lines must contain at most ${MAX_LINES} lines`),
      z.refine(
        (lines) => new Set(lines.map((line) => line.sku)).size <= MAX_DISTINCT_SKUS,
        `lines must name at most ${MAX_DISTINCT_SKUS} distinct skus: inventory reserves an order's stock in one DynamoDB transaction`,
      ),
    ),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? 'unknown field' : 'body must be a JSON object') },
);

/** POST /orders/{orderId}/cancel body (optional). */
export const cancelOrderBodySchema = z.strictObject(
  {
    reason: z.optional(
      textField('reason').check(
        z.minLength(1, 'reason must not be empty'),
        z.maxLength(500, 'reason must be at most 500 characters'),
      ),
    ),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? 'unknown field' : 'body must be a JSON object') },
);

/** Idempotency-Key header: what clients commonly send (UUIDs, ULIDs, hashes), nothing that needs escaping. */
export const idempotencyKeySchema = textField('Idempotency-Key').check(
  z.regex(
    /^[A-Za-z0-9_-]{1,128}$/,
    'Idempotency-Key must be 1 to 128 characters of letters, digits, _ and -',
  ),
);

/** The `{orderId}` path parameter, checked before it becomes part of a key. */
export const orderIdSchema = textField('orderId').check(
  z.regex(ORDER_ID_PATTERN, 'orderId must be a 26-character ULID'),
);

/**
 * A caller-supplied x-correlation-id is kept only if it is this harmless; otherwise the request id
 * is used. It is tracing metadata, not input to the order, so a bad one never fails a request.
 */
export const correlationIdSchema = textField('x-correlation-id').check(z.regex(/^[A-Za-z0-9._:-]{1,128}$/));

export type PlaceOrderBody = z.infer<typeof placeOrderBodySchema>;
export type CancelOrderBody = z.infer<typeof cancelOrderBodySchema>;
