import { BatchGetCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { InventoryStore } from '../../../lambdas/inventory/inventory-store';
import { createStockLevelHandler, MAX_STOCK } from '../../../lambdas/inventory/stock-level';

const doc = mockClient(DynamoDBDocumentClient);
const handle = createStockLevelHandler(
  new InventoryStore(doc as unknown as DynamoDBDocumentClient, 'inventory'),
);

describe('the stock-level function', () => {
  beforeEach(() => {
    doc.reset();
    doc.on(BatchGetCommand).resolves({ Responses: { inventory: [] } });
    doc.on(PutCommand).resolves({});
  });

  it("sets a SKU's stock, then answers it as read back", async () => {
    doc.on(BatchGetCommand).resolves({ Responses: { inventory: [{ sku: 'BOOK-1', available: 25 }] } });
    expect(await handle({ sku: 'BOOK-1', available: 25 })).toEqual({ sku: 'BOOK-1', available: 25 });
    expect(doc.commandCalls(PutCommand)[0]?.args[0].input).toEqual({
      TableName: 'inventory',
      Item: { PK: 'SKU#BOOK-1', SK: 'STOCK', sku: 'BOOK-1', available: 25 },
    });
  });

  it('reads a catalogue SKU that has no record yet as its 1,000 units, and an unknown one as not found', async () => {
    expect(await handle({ sku: 'SKU-7' })).toEqual({ sku: 'SKU-7', available: 1000 });
    expect(await handle({ sku: 'BOOK-1' })).toEqual({
      error: {
        code: 'SKU_NOT_FOUND',
        message: 'sku BOOK-1 has no stock record and is not in the catalogue',
        field: 'sku',
      },
    });
    expect(doc.commandCalls(PutCommand)).toHaveLength(0);
  });

  it.each([
    [{ sku: 'SKU-1', available: -1 }, 'available must not be negative', 'available'],
    [{ sku: 'SKU-1', available: 1.5 }, 'available must be an integer', 'available'],
    [{ sku: 'SKU-1', available: MAX_STOCK + 1 }, `available must be at most ${MAX_STOCK}`, 'available'],
    [{ sku: 'SKU 1', available: 1 }, 'sku may contain only letters, digits and . _ : -', 'sku'],
    [{ sku: 'SKU-1', availble: 1 }, 'unknown field availble', 'availble'],
    ['SKU-1', 'the request must be a JSON object such as {"sku":"SKU-1","available":25}', undefined],
  ])('answers a JSON error naming the field for %j, writing nothing', async (input, message, field) => {
    expect(await handle(input)).toEqual({
      error: { code: 'VALIDATION_ERROR', message, ...(field === undefined ? {} : { field }) },
    });
    expect(doc.commandCalls(PutCommand)).toHaveLength(0);
  });
});
