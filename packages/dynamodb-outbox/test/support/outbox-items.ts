import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { EventEnvelope } from '../../src/runtime/envelope';
import { outboxKeyOf } from '../../src/runtime/layout';
import type { WriterSettings } from '../../src/runtime/settings';
import { OutboxWriter, type TransactItem } from '../../src/runtime/writer';
import { orderPartition, ordersOutboxLayout } from './sample-table';

/** Every outbox item in a (small, test-sized) table, read consistently: what the bus must hold. */
export const scanOutboxItems = async (
  doc: DynamoDBDocumentClient,
  tableName: string,
): Promise<Record<string, unknown>[]> => {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: 'begins_with(SK, :outbox)',
        ExpressionAttributeValues: { ':outbox': ordersOutboxLayout.sortKeyPrefix },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
};

/** The key of an order's outbox item with `sequence`: beside the order, in its partition. */
export const orderOutboxKey = (orderId: string, sequence: number) =>
  outboxKeyOf(
    ordersOutboxLayout,
    { aggregateType: 'Order', aggregateId: orderId, sequence },
    { aggregateKey: orderPartition(orderId) },
  );

/**
 * An outbox writer whose clock reads each event's own `occurredAt`: the item is written the moment
 * its event occurred, so a test places items in a time-ordered table's minutes by `occurredAt`.
 */
export const writtenWhenItOccurred = (settings: WriterSettings) => {
  const at = (event: EventEnvelope) => new OutboxWriter(settings, { now: () => new Date(event.occurredAt) });
  return {
    item: (event: EventEnvelope): Record<string, unknown> => at(event).item(event),
    transaction: (actions: readonly TransactItem[], events: readonly [EventEnvelope]): TransactItem[] =>
      at(events[0]).transaction(actions, events),
  };
};
