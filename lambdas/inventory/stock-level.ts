import { describeIssues } from 'dynamodb-outbox/runtime';
import { orderLineInputSchema } from '../orders/http/schemas';
import * as z from '../zod';
import type { InventoryStore } from './inventory-store';

/** The most units a SKU's stock can be set to: far above any order, far below a number's precision. */
export const MAX_STOCK = 1_000_000_000;

/** `{ "sku": "SKU-1" }` reads a SKU's stock; with `"available": 25` it sets it first. */
const requestSchema = z.strictObject({
  // The same rules as an order line's sku: any SKU an order can name can be stocked.
  sku: orderLineInputSchema.shape.sku,
  available: z.optional(
    z
      .number({ error: 'available must be a number' })
      .check(
        z.int('available must be an integer'),
        z.minimum(0, 'available must not be negative'),
        z.maximum(MAX_STOCK, `available must be at most ${MAX_STOCK}`),
      ),
  ),
});

export type StockLevelResponse =
  | { readonly sku: string; readonly available: number }
  | { readonly error: { readonly code: string; readonly message: string; readonly field?: string } };

/**
 * Read or set a SKU's stock, invoked directly (`npm run outbox -- invoke StockLevel '{…}'` offline,
 * `aws lambda invoke` deployed). Bad input is answered with an error body naming the field, and
 * writes nothing; an unknown SKU read answers `SKU_NOT_FOUND` (setting its stock makes it known).
 */
export const createStockLevelHandler =
  (store: InventoryStore) =>
  async (input: unknown): Promise<StockLevelResponse> => {
    const parsed = requestSchema.safeParse(input);
    if (!parsed.success) {
      const [issue] = parsed.error.issues;
      const field =
        issue?.code === 'unrecognized_keys' ? issue.keys[0] : issue?.path.map(String).join('.') || undefined;
      return {
        error: {
          code: 'VALIDATION_ERROR',
          message:
            issue?.code === 'unrecognized_keys'
              ? `unknown field ${issue.keys[0]}`
              : issue?.code === 'invalid_type' && issue.path.length === 0
                ? 'the request must be a JSON object such as {"sku":"SKU-1","available":25}'
                : (issue?.message ?? describeIssues(parsed.error)),
          ...(field ? { field } : {}),
        },
      };
    }
    const { sku, available } = parsed.data;
    if (available !== undefined) await store.setStock(sku, available);
    const level = await store.available(sku);
    if (level === undefined)
      return {
        error: {
          code: 'SKU_NOT_FOUND',
          message: `sku ${sku} has no stock record and is not in the catalogue`,
          field: 'sku',
        },
      };
    return { sku, available: level };
  };
