import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RETRY_POLICY,
  nextAttemptAfter,
  STUCK_PARTITION,
  StuckEvents,
  stuckIdOf,
} from '../../../src/engine/reconciler-retries';
import {
  bucketOfPartition,
  type OutboxLayout,
  outboxKeyOfStreamKeys,
  relayFilterPattern,
  TIME_ORDERED_TABLE_LAYOUT,
} from '../../../src/runtime/layout';
import { ORDERS_LAYOUT, OTHER_LAYOUT } from '../../support/unit';

const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));

describe('stuck events of the reconciler', () => {
  it('are retried 5, 10, 20, 40, 80 and 160 minutes apart, then every 4 hours', () => {
    // Prepare
    const failedAt = new Date('2026-11-30T12:00:00.000Z');

    // Act
    const waits = Array.from(
      { length: DEFAULT_RETRY_POLICY.maxAttempts - 1 },
      (_, i) =>
        (nextAttemptAfter(DEFAULT_RETRY_POLICY, i + 1, failedAt).getTime() - failedAt.getTime()) / 60_000,
    );

    // Assess: the 10th failure parks the event, 1,035 minutes (17 h 15 min) after the first.
    expect(waits).toEqual([5, 10, 20, 40, 80, 160, 240, 240, 240]);
    expect(waits.reduce((sum, wait) => sum + wait, 0)).toBe(1035);
  });

  it.each<[string, OutboxLayout]>([
    ['time-ordered', TIME_ORDERED_TABLE_LAYOUT],
    ['same-table', ORDERS_LAYOUT],
    ['same-table, other names', OTHER_LAYOUT],
  ])(
    'are never taken for outbox items on a %s layout: not by the stream filter, nor by a listing',
    (_, layout) => {
      // Prepare
      const key = {
        [layout.partitionKey]: '2026-11-30T12:00#3',
        [layout.sortKey]: `${layout.sortKeyPrefix}x`,
      };

      // Act
      const sortKey = stuckIdOf(key);
      const streamKeys = { [layout.partitionKey]: { S: STUCK_PARTITION }, [layout.sortKey]: { S: sortKey } };

      // Assess: the relay's filter matches outbox items by sort-key prefix; the time-ordered listing
      // reads partitions named `<minute>#<shard>`.
      expect(sortKey.startsWith(layout.sortKeyPrefix)).toBe(false);
      expect(relayFilterPattern(layout).dynamodb.Keys[layout.sortKey]?.S).toEqual([
        { prefix: layout.sortKeyPrefix },
      ]);
      expect(outboxKeyOfStreamKeys(layout, streamKeys)).toBeUndefined();
      expect(bucketOfPartition(STUCK_PARTITION)).toBe('RECONCILER');
      expect(Number.isNaN(Date.parse(`${bucketOfPartition(STUCK_PARTITION)}:00.000Z`))).toBe(true);
    },
  );

  it('name one entry per key, whatever order its attributes come in', () => {
    expect(stuckIdOf({ SK: 'OUTBOX#1', PK: 'ORDER#o1' })).toBe(stuckIdOf({ PK: 'ORDER#o1', SK: 'OUTBOX#1' }));
    expect(stuckIdOf({ PK: 'ORDER#o1', SK: 'OUTBOX#1' })).toBe('[["PK","ORDER#o1"],["SK","OUTBOX#1"]]');
  });

  it('refuse a sort-key prefix their own entries would start with', () => {
    expect(
      () =>
        new StuckEvents(doc, {
          tableName: 'outbox',
          layout: { ...TIME_ORDERED_TABLE_LAYOUT, sortKeyPrefix: '[' },
        }),
    ).toThrow(`sortKeyPrefix "[" would make the reconciler's retry entries look like outbox items`);
  });
});
