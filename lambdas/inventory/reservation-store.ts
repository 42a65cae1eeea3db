import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from '../zod';
import type { Change, Reservation } from './reservations';
import { reservationKey, skuPartition, skuReservationKey } from './tables';

/** The port the use case writes through. */
export interface ReservationStore {
  get(orderId: string): Promise<Reservation | undefined>;
  /** Write `change` atomically; throws `ConcurrentChangeError` if the record moved since it was read. */
  commit(change: Change): Promise<void>;
}

/** Another delivery changed the order's record between our read and our write: read again. */
export class ConcurrentChangeError extends Error {
  override readonly name = 'ConcurrentChangeError';
}

const reservedLineSchema = z.object({ sku: z.string(), quantity: z.number().check(z.int()) });
const outcomeSchema = z.enum([
  'reserved',
  'released',
  'cancelled-before-placed',
  'rejected',
  'nothing-to-release',
  'stale',
]);
const reservationItemSchema = z.object({
  orderId: z.string(),
  state: z.enum(['RESERVED', 'RELEASED', 'CANCELLED', 'REJECTED']),
  sequence: z.number().check(z.int()),
  lines: z.array(reservedLineSchema),
  lastEventId: z.string(),
  lastOutcome: outcomeSchema,
  reason: z.optional(z.string()),
});

/** Transaction cancellation reasons that mean "someone else wrote first", not "broken request". */
const CONCURRENCY_CODES = new Set(['ConditionalCheckFailed', 'TransactionConflict']);

export class DynamoDbReservationStore implements ReservationStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(orderId: string): Promise<Reservation | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: reservationKey(orderId), ConsistentRead: true }),
    );
    if (Item === undefined) return undefined;
    const { reason, ...rest } = reservationItemSchema.parse(Item);
    return { ...rest, ...(reason === undefined ? {} : { reason }) };
  }

  async commit(change: Change): Promise<void> {
    const { next, expectedSequence } = change;
    const put = {
      TableName: this.tableName,
      Item: { ...reservationKey(next.orderId), ...next },
      ...(expectedSequence === undefined
        ? { ConditionExpression: 'attribute_not_exists(PK)' }
        : {
            ConditionExpression: '#sequence = :expected',
            ExpressionAttributeNames: { '#sequence': 'sequence' },
            ExpressionAttributeValues: { ':expected': expectedSequence },
          }),
    };
    try {
      if (change.reserve.length === 0 && change.release.length === 0) {
        await this.client.send(new PutCommand(put));
        return;
      }
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: put },
            ...change.reserve.map((line) => ({
              Put: {
                TableName: this.tableName,
                Item: { ...skuReservationKey(line.sku, next.orderId), ...line, orderId: next.orderId },
              },
            })),
            ...change.release.map((line) => ({
              Delete: { TableName: this.tableName, Key: skuReservationKey(line.sku, next.orderId) },
            })),
          ],
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new ConcurrentChangeError(`reservation of order ${next.orderId} changed`, { cause: error });
      }
      if (
        error instanceof TransactionCanceledException &&
        error.CancellationReasons?.some((r) => r.Code !== undefined && CONCURRENCY_CODES.has(r.Code))
      ) {
        throw new ConcurrentChangeError(`reservation of order ${next.orderId} changed`, { cause: error });
      }
      throw error;
    }
  }

  /** Units of `sku` held by all reservations: the sum over the sku's partition. */
  async reservedQuantity(sku: string): Promise<number> {
    let total = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'PK = :pk',
          ExpressionAttributeValues: { ':pk': skuPartition(sku) },
          ProjectionExpression: 'quantity',
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) total += z.object({ quantity: z.number() }).parse(item).quantity;
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return total;
  }
}
