import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  ConcurrentChangeError,
  DynamoDbReservationStore,
} from '../../../lambdas/inventory/reservation-store';
import type { Change } from '../../../lambdas/inventory/reservations';

const ddb = mockClient(DynamoDBDocumentClient);
const store = new DynamoDbReservationStore(DynamoDBDocumentClient.from(new DynamoDBClient({})), 'inventory');

const reserve: Change = {
  next: {
    orderId: 'o1',
    state: 'RESERVED',
    sequence: 1,
    lines: [
      { sku: 'A', quantity: 5 },
      { sku: 'B', quantity: 1 },
    ],
    lastEventId: 'e1',
    lastOutcome: 'reserved',
  },
  expectedSequence: undefined,
  reserve: [
    { sku: 'A', quantity: 5 },
    { sku: 'B', quantity: 1 },
  ],
  release: [],
};

const release: Change = {
  next: { ...reserve.next, state: 'RELEASED', sequence: 2, lastEventId: 'e2', lastOutcome: 'released' },
  expectedSequence: 1,
  reserve: [],
  release: reserve.reserve,
};

describe('DynamoDbReservationStore', () => {
  beforeEach(() => {
    ddb.reset();
  });

  it('reserves in one transaction: the record only if absent, plus one item per sku', async () => {
    // Prepare
    ddb.on(TransactWriteCommand).resolves({});

    // Act
    await store.commit(reserve);

    // Assess
    const [call] = ddb.commandCalls(TransactWriteCommand);
    expect(call?.args[0].input.TransactItems).toEqual([
      {
        Put: {
          TableName: 'inventory',
          Item: { PK: 'ORDER#o1', SK: 'RESERVATION', ...reserve.next },
          ConditionExpression: 'attribute_not_exists(PK)',
        },
      },
      {
        Put: {
          TableName: 'inventory',
          Item: { PK: 'SKU#A', SK: 'ORDER#o1', sku: 'A', quantity: 5, orderId: 'o1' },
        },
      },
      {
        Put: {
          TableName: 'inventory',
          Item: { PK: 'SKU#B', SK: 'ORDER#o1', sku: 'B', quantity: 1, orderId: 'o1' },
        },
      },
    ]);
  });

  it('releases in one transaction conditional on the sequence it read', async () => {
    // Prepare
    ddb.on(TransactWriteCommand).resolves({});

    // Act
    await store.commit(release);

    // Assess
    const items = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems;
    expect(items?.[0]?.Put).toMatchObject({
      ConditionExpression: '#sequence = :expected',
      ExpressionAttributeNames: { '#sequence': 'sequence' },
      ExpressionAttributeValues: { ':expected': 1 },
    });
    expect(items?.slice(1)).toEqual([
      { Delete: { TableName: 'inventory', Key: { PK: 'SKU#A', SK: 'ORDER#o1' } } },
      { Delete: { TableName: 'inventory', Key: { PK: 'SKU#B', SK: 'ORDER#o1' } } },
    ]);
  });

  it('writes a tombstone with a single conditional put', async () => {
    // Prepare
    ddb.on(PutCommand).resolves({});
    const tombstone: Change = {
      next: {
        orderId: 'o1',
        state: 'CANCELLED',
        sequence: 2,
        lines: [],
        lastEventId: 'e2',
        lastOutcome: 'cancelled-before-placed',
      },
      expectedSequence: undefined,
      reserve: [],
      release: [],
    };

    // Act
    await store.commit(tombstone);

    // Assess
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input).toMatchObject({
      ConditionExpression: 'attribute_not_exists(PK)',
      Item: { PK: 'ORDER#o1', SK: 'RESERVATION', state: 'CANCELLED' },
    });
  });

  it.each(['ConditionalCheckFailed', 'TransactionConflict'])(
    'reports a transaction cancelled for %s as a concurrent change',
    async (code) => {
      // Prepare
      ddb.on(TransactWriteCommand).rejects(
        new TransactionCanceledException({
          message: 'cancelled',
          $metadata: {},
          CancellationReasons: [{ Code: code }, { Code: 'None' }, { Code: 'None' }],
        }),
      );

      // Act + Assess
      await expect(store.commit(reserve)).rejects.toBeInstanceOf(ConcurrentChangeError);
    },
  );

  it('reports a failed put condition as a concurrent change', async () => {
    // Prepare
    ddb.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));

    // Act + Assess
    await expect(store.commit({ ...release, release: [] })).rejects.toBeInstanceOf(ConcurrentChangeError);
  });

  it('lets other failures through unchanged', async () => {
    // Prepare
    ddb.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'cancelled',
        $metadata: {},
        CancellationReasons: [{ Code: 'ValidationError' }],
      }),
    );

    // Act + Assess
    await expect(store.commit(reserve)).rejects.toBeInstanceOf(TransactionCanceledException);
  });

  it('reads the record with a consistent read and validates it', async () => {
    // Prepare
    ddb.on(GetCommand).resolves({ Item: { PK: 'ORDER#o1', SK: 'RESERVATION', ...reserve.next } });

    // Act
    const found = await store.get('o1');

    // Assess
    expect(found).toEqual(reserve.next);
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: 'inventory',
      Key: { PK: 'ORDER#o1', SK: 'RESERVATION' },
      ConsistentRead: true,
    });
  });
});
