import { BatchGetCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { TransactItem } from 'dynamodb-outbox/runtime';
import * as z from '../zod';
import {
  CATALOGUE_STOCK,
  type Decision,
  isCatalogueSku,
  RESERVATION_STATES,
  type Reservation,
  type StockChange,
} from './reservations';
import { reservationKey, stockKey } from './tables';

const reservationItemSchema = z.object({
  orderId: z.string(),
  state: z.enum(RESERVATION_STATES),
  sequence: z.number().check(z.int()),
  lines: z.array(z.object({ sku: z.string(), quantity: z.number().check(z.int()) })),
  version: z.number().check(z.int()),
});

const stockItemSchema = z.object({ sku: z.string(), available: z.number().check(z.int()) });

/**
 * BatchGetItem reads at most 100 keys a call
 * (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html).
 */
const BATCH_GET_KEYS = 100;
/** Rounds of BatchGetItem for keys it returned unprocessed (throttling) before the invocation fails. */
const BATCH_GET_ROUNDS = 5;

/**
 * Inventory's table: strongly consistent reads of a reservation and of stock levels, and the
 * transaction items of a decision, whose conditions hold only if what was read is still true.
 */
export class InventoryStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  async reservation(orderId: string): Promise<Reservation | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: reservationKey(orderId), ConsistentRead: true }),
    );
    return Item === undefined ? undefined : reservationItemSchema.parse(Item);
  }

  /** Units available of each of `skus` that has a stock record. */
  async stockLevels(skus: readonly string[]): Promise<Map<string, number>> {
    const levels = new Map<string, number>();
    for (let start = 0; start < skus.length; start += BATCH_GET_KEYS) {
      let keys: Record<string, unknown>[] = skus.slice(start, start + BATCH_GET_KEYS).map(stockKey);
      for (let round = 1; keys.length > 0; round++) {
        if (round > BATCH_GET_ROUNDS)
          throw new Error(`stock of ${keys.length} skus still unread after ${BATCH_GET_ROUNDS} rounds`);
        const page = await this.client.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }),
        );
        for (const item of page.Responses?.[this.tableName] ?? []) {
          const { sku, available } = stockItemSchema.parse(item);
          levels.set(sku, available);
        }
        keys = page.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return levels;
  }

  /** Units available of `sku`: its record's, the catalogue's, or undefined for an unknown SKU. */
  async available(sku: string): Promise<number | undefined> {
    return (await this.stockLevels([sku])).get(sku) ?? (isCatalogueSku(sku) ? CATALOGUE_STOCK : undefined);
  }

  /** Set the units available of `sku`, creating its record (so a new SKU becomes known). */
  async setStock(sku: string, available: number): Promise<void> {
    await this.client.send(
      new PutCommand({ TableName: this.tableName, Item: { ...stockKey(sku), sku, available } }),
    );
  }

  /**
   * The writes of `decision`: the reservation record (only if it is still as read), and each stock
   * change (a take only if the units are still there). A failed condition means someone else
   * changed what was read: the consumer reads again and decides again.
   */
  writes(decision: Decision): TransactItem[] {
    const TableName = this.tableName;
    const record: TransactItem[] =
      decision.record === undefined
        ? []
        : [
            {
              Put: {
                TableName,
                Item: { ...reservationKey(decision.record.next.orderId), ...decision.record.next },
                ...(decision.record.expectedSequence === undefined
                  ? { ConditionExpression: 'attribute_not_exists(PK)' }
                  : {
                      ConditionExpression: '#sequence = :expected',
                      ExpressionAttributeNames: { '#sequence': 'sequence' },
                      ExpressionAttributeValues: { ':expected': decision.record.expectedSequence },
                    }),
              },
            },
          ];
    return [...record, ...decision.stock.map((change) => stockWrite(TableName, change))];
  }
}

const stockWrite = (TableName: string, change: StockChange): TransactItem => {
  const Key = stockKey(change.sku);
  if (change.kind === 'give')
    return {
      Update: {
        TableName,
        Key,
        UpdateExpression: 'ADD #available :quantity',
        ExpressionAttributeNames: { '#available': 'available' },
        ExpressionAttributeValues: { ':quantity': change.quantity },
      },
    };
  if (change.fromCatalogue)
    return {
      Update: {
        TableName,
        Key,
        UpdateExpression: 'SET #sku = :sku, #available = :rest',
        ConditionExpression: 'attribute_not_exists(#available)',
        ExpressionAttributeNames: { '#sku': 'sku', '#available': 'available' },
        ExpressionAttributeValues: { ':sku': change.sku, ':rest': CATALOGUE_STOCK - change.quantity },
      },
    };
  return {
    Update: {
      TableName,
      Key,
      UpdateExpression: 'SET #available = #available - :quantity',
      ConditionExpression: '#available >= :quantity',
      ExpressionAttributeNames: { '#available': 'available' },
      ExpressionAttributeValues: { ':quantity': change.quantity },
    },
  };
};
