import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandInput,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  S3Client,
} from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { redriveFailures } from '../../../src/cli/redrive-failures';
import { parseS3Location, s3FailureStore } from '../../../src/cli/s3-failure-store';
import { failureObjectKey } from '../../../src/local/failure-destination';
import { ORDERS_LAYOUT, outboxItem, streamRecord } from '../../support/unit';

const s3Mock = mockClient(S3Client);
const eventBridgeMock = mockClient(EventBridgeClient);
const docMock = mockClient(DynamoDBDocumentClient);

const BUCKET = 'relay-failures';
const client = new S3Client({ region: 'us-east-1' });

const target = {
  doc: DynamoDBDocumentClient.from(new DynamoDBClient({})),
  eventBridge: new EventBridgeClient({}),
  eventBusName: 'orders',
  source: 'orders',
  tableName: 'orders',
  layout: ORDERS_LAYOUT,
  retentionDays: 7,
};

/** A GetObject body: the SDK's stream mixin, as far as the store uses it. */
const bodyOf = (text: string) =>
  ({ transformToString: async () => text }) as unknown as GetObjectCommandOutput['Body'];

/** The body of a failure object as the mapping writes it (only `payload` matters to a redrive). */
const failureBody = (numbers: number[]): string =>
  JSON.stringify({
    version: '1.0',
    payload: JSON.stringify({ Records: numbers.map((n) => streamRecord(n, outboxItem(n))) }),
  });

/**
 * An in-memory bucket behind the S3 mock: ListObjectsV2 in pages of `pageSize`, GetObject,
 * CopyObject and DeleteObject change it as S3 would.
 */
const fakeBucket = (objects: Map<string, string>, pageSize = 1000) => {
  s3Mock.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput) => {
    const keys = [...objects.keys()].filter((k) => k.startsWith(input.Prefix ?? '')).sort();
    const start = input.ContinuationToken === undefined ? 0 : Number(input.ContinuationToken);
    const page = keys.slice(start, start + pageSize);
    const more = start + pageSize < keys.length;
    return {
      Contents: page.map((Key) => ({ Key })),
      IsTruncated: more,
      ...(more ? { NextContinuationToken: String(start + pageSize) } : {}),
    };
  });
  s3Mock.on(GetObjectCommand).callsFake(({ Key }: { Key: string }) => {
    const text = objects.get(Key);
    if (text === undefined) throw Object.assign(new Error('no such key'), { name: 'NoSuchKey' });
    return { Body: bodyOf(text) };
  });
  s3Mock.on(CopyObjectCommand).callsFake(({ Key, CopySource }: { Key: string; CopySource: string }) => {
    const source = decodeURIComponent(CopySource.slice(`${BUCKET}/`.length));
    const text = objects.get(source);
    if (text === undefined) throw Object.assign(new Error('no such key'), { name: 'NoSuchKey' });
    objects.set(Key, text);
    return {};
  });
  s3Mock.on(DeleteObjectCommand).callsFake(({ Key }: { Key: string }) => {
    objects.delete(Key);
    return {};
  });
};

const publishedEventIds = (): string[] =>
  eventBridgeMock
    .commandCalls(PutEventsCommand)
    .flatMap((c) => (c.args[0].input as PutEventsCommandInput).Entries ?? [])
    .map((e: PutEventsRequestEntry) => JSON.parse(e.Detail ?? '{}').eventId);

const keyAt = (shard: string, second: number): string =>
  failureObjectKey(
    '3f0c5a2e-0000-4000-8000-000000000001',
    shard,
    new Date(Date.UTC(2026, 10, 22, 16, 0, second)),
  );

describe('s3FailureStore', () => {
  beforeEach(() => {
    s3Mock.reset();
    eventBridgeMock.reset();
    docMock.reset();
  });

  it('lists every page of keys under aws/lambda/, leaving out redriven/ and folder markers', async () => {
    // Prepare
    const keys = [keyAt('shardId-1', 1), keyAt('shardId-1', 2), keyAt('shardId-2', 3)];
    fakeBucket(
      new Map([...keys.map((k) => [k, '{}'] as const), ['redriven/x', '{}'], ['aws/lambda/', '']]),
      1,
    );
    // Act
    const listed = await s3FailureStore(client, BUCKET).list();
    // Assess
    expect(listed).toEqual(keys);
    const calls = s3Mock.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input);
    expect(calls).toHaveLength(4);
    expect(calls.every((c) => c.Bucket === BUCKET && c.Prefix === 'aws/lambda/')).toBe(true);
    expect(calls.map((c) => c.ContinuationToken)).toEqual([undefined, '1', '2', '3']);
  });

  it('reads an object as text', async () => {
    // Prepare
    const key = keyAt('shardId-1', 1);
    fakeBucket(new Map([[key, failureBody([0])]]));
    // Act
    const text = await s3FailureStore(client, BUCKET).read(key);
    // Assess
    expect(text).toBe(failureBody([0]));
    expect(s3Mock.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({ Bucket: BUCKET, Key: key });
  });

  it('moves an object under redriven/: a copy, then a delete of the original', async () => {
    // Prepare
    const key = keyAt('shardId-1', 1);
    const objects = new Map([[key, 'x']]);
    fakeBucket(objects);
    // Act
    await s3FailureStore(client, BUCKET).markRedriven(key);
    // Assess
    const sent = s3Mock.calls().map((c) => c.args[0].constructor.name);
    expect(sent).toEqual(['CopyObjectCommand', 'DeleteObjectCommand']);
    expect(s3Mock.commandCalls(CopyObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: BUCKET,
      Key: `redriven/${key}`,
      CopySource: `${BUCKET}/${key}`,
    });
    expect(s3Mock.commandCalls(DeleteObjectCommand)[0]?.args[0].input).toEqual({ Bucket: BUCKET, Key: key });
    expect([...objects.keys()]).toEqual([`redriven/${key}`]);
  });

  it('does not delete the original when the copy fails', async () => {
    // Prepare
    s3Mock.on(CopyObjectCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    // Act
    const moving = s3FailureStore(client, BUCKET).markRedriven(keyAt('shardId-1', 1));
    // Assess
    await expect(moving).rejects.toThrow('denied');
    expect(s3Mock.commandCalls(DeleteObjectCommand)).toHaveLength(0);
  });

  it('redrives a bucket: republishes every object, moves it under redriven/, and a second run finds nothing', async () => {
    // Prepare
    const objects = new Map([
      [keyAt('shardId-1', 1), failureBody([0, 1, 2])],
      [keyAt('shardId-2', 2), failureBody([3, 4])],
    ]);
    fakeBucket(objects, 1);
    docMock.on(QueryCommand).resolves({ Items: [] });
    docMock.on(PutCommand).resolves({});
    eventBridgeMock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => ({
      Entries: (input.Entries ?? []).map((_, i) => ({ EventId: `eb-${i}` })),
    }));
    const store = s3FailureStore(client, BUCKET);
    // Act
    const report = await redriveFailures(target, store);
    const published = publishedEventIds();
    eventBridgeMock.resetHistory();
    const again = await redriveFailures(target, store);
    // Assess
    expect(report).toMatchObject({ store: `bucket s3://${BUCKET}`, objects: 2, republished: 5, left: 0 });
    expect(published.sort()).toEqual([0, 1, 2, 3, 4].map((n) => outboxItem(n).eventId));
    // One receipt per failure object (each one minute's events), naming its events.
    expect(docMock.commandCalls(PutCommand)).toHaveLength(2);
    expect([...objects.keys()].every((k) => k.startsWith('redriven/aws/lambda/'))).toBe(true);
    expect(again).toMatchObject({ objects: 0, republished: 0, left: 0 });
    expect(eventBridgeMock.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});

describe('parseS3Location', () => {
  it('reads the bucket of s3://bucket, an empty name for s3://, nothing for a directory', () => {
    expect(parseS3Location('s3://relay-failures')).toBe('relay-failures');
    expect(parseS3Location('s3://relay-failures/')).toBe('relay-failures');
    expect(parseS3Location('s3://')).toBe('');
    expect(parseS3Location('/tmp/failures')).toBeUndefined();
    expect(() => parseS3Location('s3://bucket/aws/lambda')).toThrow('name the bucket only');
  });
});
