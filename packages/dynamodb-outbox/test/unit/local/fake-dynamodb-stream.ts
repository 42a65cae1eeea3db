import {
  type _Record,
  type AttributeValue,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import { mockClient } from 'aws-sdk-client-mock';

export const STREAM_ARN =
  'arn:aws:dynamodb:us-east-1:000000000000:table/orders/stream/2026-01-01T00:00:00.000';

interface FakeShard {
  readonly id: string;
  readonly parent?: string;
  readonly records: _Record[];
  closed: boolean;
}

interface Position {
  readonly shard: string;
  readonly index: number;
}

/**
 * An in-memory DynamoDB stream behind a mocked DynamoDBStreamsClient: DescribeStream,
 * GetShardIterator (all four iterator types) and GetRecords, with closable shards and parents.
 */
export class FakeDynamoDbStream {
  readonly client = new DynamoDBStreamsClient({ region: 'us-east-1' });
  readonly shards: FakeShard[] = [];
  getRecordsCalls = 0;
  /** The next this many GetRecords calls answer TrimmedDataAccessException. */
  trimmedReads = 0;
  /** While set, GetRecords fails as a DynamoDB that is down does: the connection is refused. */
  unreachable = false;
  private sequence = 0;

  constructor() {
    const mock = mockClient(this.client);
    mock.on(DescribeStreamCommand).callsFake(() => ({
      StreamDescription: {
        StreamArn: STREAM_ARN,
        StreamStatus: 'ENABLED',
        Shards: this.shards.map((s) => ({
          ShardId: s.id,
          ...(s.parent ? { ParentShardId: s.parent } : {}),
          SequenceNumberRange: {
            StartingSequenceNumber: s.records[0]?.dynamodb?.SequenceNumber ?? '0',
            ...(s.closed ? { EndingSequenceNumber: s.records.at(-1)?.dynamodb?.SequenceNumber ?? '0' } : {}),
          },
        })),
      },
    }));
    mock.on(GetShardIteratorCommand).callsFake((input) => {
      const shard = this.shard(input.ShardId);
      const at = shard.records.findIndex((r) => r.dynamodb?.SequenceNumber === input.SequenceNumber);
      const index =
        input.ShardIteratorType === 'TRIM_HORIZON'
          ? 0
          : input.ShardIteratorType === 'LATEST'
            ? shard.records.length
            : input.ShardIteratorType === 'AT_SEQUENCE_NUMBER'
              ? at
              : at + 1;
      return { ShardIterator: JSON.stringify({ shard: shard.id, index } satisfies Position) };
    });
    mock.on(GetRecordsCommand).callsFake((input) => {
      this.getRecordsCalls++;
      if (this.unreachable)
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { code: 'ECONNREFUSED' });
      if (this.trimmedReads > 0) {
        this.trimmedReads--;
        throw new TrimmedDataAccessException({ message: 'trimmed', $metadata: {} });
      }
      const position = JSON.parse(input.ShardIterator ?? '') as Position;
      const shard = this.shard(position.shard);
      const records = shard.records.slice(position.index, position.index + (input.Limit ?? 1000));
      const next = position.index + records.length;
      const ended = shard.closed && next >= shard.records.length;
      return {
        Records: records,
        ...(ended ? {} : { NextShardIterator: JSON.stringify({ shard: shard.id, index: next }) }),
      };
    });
  }

  addShard(id: string, parent?: string): this {
    this.shards.push({ id, ...(parent ? { parent } : {}), records: [], closed: false });
    return this;
  }

  closeShard(id: string): void {
    this.shard(id).closed = true;
  }

  /** Append a stream record for item (PK, SK); returns its sequence number. */
  put(
    shardId: string,
    sk: string,
    options: { eventName?: string; image?: Record<string, AttributeValue>; pk?: string } = {},
  ): string {
    this.sequence++;
    const sequenceNumber = String(this.sequence).padStart(21, '0');
    const keys = { PK: { S: options.pk ?? 'ORDER#1' }, SK: { S: sk } };
    const eventName = options.eventName ?? 'INSERT';
    this.shard(shardId).records.push({
      eventID: `event-${this.sequence}`,
      eventName: eventName as _Record['eventName'],
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      dynamodb: {
        ApproximateCreationDateTime: new Date('2026-01-01T00:00:05.000Z'),
        Keys: keys,
        ...(eventName === 'REMOVE' || eventName === 'TTL' ? {} : { NewImage: { ...keys, ...options.image } }),
        SequenceNumber: sequenceNumber,
        SizeBytes: 40,
        StreamViewType: 'NEW_IMAGE',
      },
    });
    return sequenceNumber;
  }

  /** Put `count` outbox inserts; returns their sequence numbers. */
  putOutbox(shardId: string, count: number): string[] {
    return Array.from({ length: count }, (_, i) =>
      this.put(shardId, `OUTBOX#${String(i + 1).padStart(10, '0')}`),
    );
  }

  private shard(id: string | undefined): FakeShard {
    const shard = this.shards.find((s) => s.id === id);
    if (!shard) throw new Error(`unknown shard ${id}`);
    return shard;
  }
}
