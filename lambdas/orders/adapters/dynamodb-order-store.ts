import { type AttributeValue, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  paginateQuery,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { checkTransactionLimits, type OutboxWriter, type TransactItem } from 'dynamodb-outbox/runtime';
import * as z from '../../zod';
import {
  type Change,
  ChangeRejectedError,
  ConcurrentWriteError,
  type OrderStore,
  StoreBusyError,
  type StoredOrder,
} from '../application/ports';
import { ORDER_STATUSES, type Order } from '../domain/order';
import { isOrderId } from '../domain/order-id';
import { orderLineSchema, REJECTION_REASONS } from '../events';
import { ORDER_PK_PREFIX, orderKey, placedOrderAttributes, placedOrdersIndex, placedShards } from '../table';

export interface DynamoDbOrderStoreOptions {
  readonly tableName: string;
  /** Builds the outbox items of a commit's events (same table: beside the order). */
  readonly outbox: OutboxWriter;
}

const storedOrderSchema = z.object({
  orderId: z.string(),
  customerId: z.string(),
  currency: z.string(),
  lines: z.array(orderLineSchema),
  total: z.number().check(z.int()),
  status: z.enum(ORDER_STATUSES),
  version: z.number().check(z.int(), z.positive()),
  createdAt: z.string(),
  updatedAt: z.string(),
  cancelledAt: z.optional(z.string()),
  cancelReason: z.optional(z.string()),
  confirmedAt: z.optional(z.string()),
  rejectedAt: z.optional(z.string()),
  rejectionReason: z.optional(z.enum(REJECTION_REASONS)),
  requestHash: z.optional(z.string()),
});

const THROTTLING_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
]);
const THROTTLING_REASONS = new Set([
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
  'RequestLimitExceeded',
]);

const keyOf = (orderId: string) => {
  // Ids are validated at the edge; this guards the key layout against any caller that skipped it.
  if (!isOrderId(orderId)) throw new Error('Refusing to build a key from an invalid order id');
  return orderKey(orderId);
};

/** The OrderStore port on a DynamoDB table: one GetItem to read, one TransactWriteItems per commit. */
export class DynamoDbOrderStore implements OrderStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly options: DynamoDbOrderStoreOptions,
  ) {}

  async get(orderId: string): Promise<StoredOrder | undefined> {
    try {
      const { Item } = await this.client.send(
        new GetCommand({ TableName: this.options.tableName, Key: keyOf(orderId), ConsistentRead: true }),
      );
      return Item === undefined ? undefined : parseStoredOrder(Item);
    } catch (error) {
      throw translate(error);
    }
  }

  /**
   * Ids of the orders still PLACED that were placed at or before `cutoff` (ISO-8601), oldest first
   * per shard, at most `limit`: a query of each shard of the sparse placed-orders index. The index
   * is eventually consistent; its reader checks each order with a strongly consistent read.
   */
  async placedBefore(cutoff: string, limit: number): Promise<string[]> {
    const ids: string[] = [];
    const { partitionKey, sortKey, indexName } = placedOrdersIndex;
    for (const shard of placedShards()) {
      const pages = paginateQuery(
        { client: this.client },
        {
          TableName: this.options.tableName,
          IndexName: indexName,
          KeyConditionExpression: '#shard = :shard AND #placedAt <= :cutoff',
          ExpressionAttributeNames: { '#shard': partitionKey, '#placedAt': sortKey },
          ExpressionAttributeValues: { ':shard': shard, ':cutoff': cutoff },
        },
      );
      for await (const page of pages)
        for (const item of page.Items ?? []) {
          if (ids.length >= limit) return ids;
          const pk = z.object({ PK: z.string() }).parse(item).PK;
          ids.push(pk.slice(ORDER_PK_PREFIX.length));
        }
    }
    return ids;
  }

  /**
   * One TransactWriteItems, all or nothing: the order's writes and, through the outbox writer,
   * the outbox item of every event, in the order of `changes` (a cancellation reason's index is
   * the change's), checked against the transaction's limits.
   */
  async commit(changes: readonly Change[]): Promise<void> {
    const { outbox } = this.options;
    const actions = changes.flatMap((change) =>
      change.type === 'appendEvent'
        ? outbox.puts([change.event], { aggregateKey: keyOf(change.event.aggregateId).PK })
        : [orderWrite(this.options.tableName, change)],
    );
    checkTransactionLimits(actions);
    const input: TransactWriteCommandInput = { TransactItems: actions };
    try {
      await this.client.send(new TransactWriteCommand(input));
    } catch (error) {
      throw translate(error, changes);
    }
  }
}

/**
 * The write of one order change: an insert (only if the order does not exist yet), or an update
 * (only if the stored version and status are still the ones read). The saga's consumers put the
 * same writes in their own transactions.
 */
export const orderWrite = (
  TableName: string,
  change: Exclude<Change, { type: 'appendEvent' }>,
): TransactItem => {
  switch (change.type) {
    case 'insertOrder':
      return {
        Put: {
          TableName,
          Item: {
            ...keyOf(change.order.orderId),
            ...change.order,
            ...(change.order.status === 'PLACED'
              ? placedOrderAttributes(change.order.orderId, change.order.createdAt)
              : {}),
          },
          ConditionExpression: 'attribute_not_exists(PK)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      };
    case 'updateOrder':
      return { Update: { TableName, Key: keyOf(change.order.orderId), ...updateExpression(change) } };
  }
};

type UpdateOrder = Extract<Change, { type: 'updateOrder' }>;

/**
 * SET the mutable fields of the order, only if the stored version and status are still the ones
 * read; an order leaving PLACED leaves the placed-orders index too.
 */
const updateExpression = ({ order, expected }: UpdateOrder) => {
  const optional = ['cancelledAt', 'cancelReason', 'confirmedAt', 'rejectedAt', 'rejectionReason'] as const;
  const fields: Partial<Record<keyof Order, unknown>> = {
    status: order.status,
    version: order.version,
    updatedAt: order.updatedAt,
  };
  for (const name of optional) if (order[name] !== undefined) fields[name] = order[name];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {
    ':expectedVersion': expected.version,
    ':expectedStatus': expected.status,
  };
  const sets = Object.entries(fields).map(([name, value]) => {
    names[`#${name}`] = name;
    values[`:${name}`] = value;
    return `#${name} = :${name}`;
  });
  const leavesIndex = expected.status === 'PLACED' && order.status !== 'PLACED';
  const removes = leavesIndex
    ? [placedOrdersIndex.partitionKey, placedOrdersIndex.sortKey].map((name) => {
        names[`#${name}`] = name;
        return `#${name}`;
      })
    : [];
  return {
    UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
    ConditionExpression: '#version = :expectedVersion AND #status = :expectedStatus',
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
};

const errorName = (error: unknown): string | undefined => (error instanceof Error ? error.name : undefined);

/** SDK errors → the port's typed errors; anything else propagates unchanged (a 500). */
const translate = (error: unknown, changes: readonly Change[] = []): unknown => {
  if (error instanceof TransactionCanceledException) {
    const reasons = error.CancellationReasons ?? [];
    const rejected = reasons.findIndex((r) => r.Code === 'ConditionalCheckFailed');
    if (rejected >= 0) {
      const change = changes[rejected];
      const item = reasons[rejected]?.Item;
      const current = item && change && change.type !== 'appendEvent' ? parseOrderImage(item) : undefined;
      return new ChangeRejectedError(rejected, current);
    }
    if (reasons.some((r) => r.Code === 'TransactionConflict'))
      return new ConcurrentWriteError({ cause: error });
    if (reasons.some((r) => r.Code !== undefined && THROTTLING_REASONS.has(r.Code)))
      return new StoreBusyError({ cause: error });
    return error;
  }
  const name = errorName(error);
  if (name === 'TransactionConflictException') return new ConcurrentWriteError({ cause: error });
  if (name !== undefined && THROTTLING_ERRORS.has(name)) return new StoreBusyError({ cause: error });
  return error;
};

const parseOrderImage = (item: Record<string, AttributeValue>): StoredOrder | undefined => {
  const parsed = storedOrderSchema.safeParse(unmarshall(item));
  return parsed.success ? parsed.data : undefined;
};

/** An order as read from the table (a document-client item). */
export const parseStoredOrder = (item: Record<string, unknown>): StoredOrder => storedOrderSchema.parse(item);
