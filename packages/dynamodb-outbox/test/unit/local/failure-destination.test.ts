import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  directoryFailureDestination,
  failureObjectKey,
  LOCAL_MAPPING_UUID,
  listDirectoryObjects,
  moveDirectoryObject,
  readDirectoryObject,
} from '../../../src/local/failure-destination';
import type { StreamFailureRecord } from '../../../src/local/stream-poller';

const failure = (shardId: string): StreamFailureRecord => ({
  requestContext: {
    requestId: 'r-1',
    functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:relay',
    condition: 'RecordAgeExceeded',
    approximateInvokeCount: 3,
  },
  version: '1.0',
  timestamp: '2026-11-22T10:00:00.000Z',
  DDBStreamBatchInfo: {
    shardId,
    startSequenceNumber: '100',
    endSequenceNumber: '200',
    approximateArrivalOfFirstRecord: '2026-11-22T09:00:00.000Z',
    approximateArrivalOfLastRecord: '2026-11-22T09:00:01.000Z',
    batchSize: 2,
    streamArn: 'arn:aws:dynamodb:us-east-1:000000000000:table/orders/stream/x',
  },
  payload: JSON.stringify({ Records: [{ eventID: '1' }, { eventID: '2' }] }),
});

describe('failureObjectKey', () => {
  it('names the object as AWS documents: aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<UUID>', () => {
    // Act
    const key = failureObjectKey('esm-1', 'shardId-0001', new Date('2026-03-04T05:06:07.890Z'), 'u-1');
    // Assess
    expect(key).toBe('aws/lambda/esm-1/shardId-0001/2026/03/04/2026-03-04T05.06.07-u-1');
  });
});

describe('directoryFailureDestination', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'failure-destination-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes each discarded batch, records included, as one JSON object under the documented key', async () => {
    // Prepare
    const destination = directoryFailureDestination(dir, { now: () => new Date('2026-11-22T10:00:05Z') });
    // Act
    await destination(failure('shardId-a'), []);
    await destination(failure('shardId-b'), []);
    // Assess
    const keys = await listDirectoryObjects(dir, 'aws/lambda/');
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(
      new RegExp(
        `^aws/lambda/${LOCAL_MAPPING_UUID}/shardId-a/2026/11/22/2026-11-22T10\\.00\\.05-[0-9a-f-]{36}$`,
      ),
    );
    const stored = JSON.parse(await readDirectoryObject(dir, keys[0] ?? ''));
    expect(stored).toEqual(failure('shardId-a'));
    expect(JSON.parse(stored.payload).Records).toHaveLength(2);
  });

  it('lists nothing once an object moved under redriven/, and nothing for a missing directory', async () => {
    // Prepare
    await directoryFailureDestination(dir)(failure('shardId-a'), []);
    const [key = ''] = await listDirectoryObjects(dir, 'aws/lambda/');
    // Act
    await moveDirectoryObject(dir, key, `redriven/${key}`);
    // Assess
    expect(await listDirectoryObjects(dir, 'aws/lambda/')).toEqual([]);
    expect(await listDirectoryObjects(dir, 'redriven/')).toEqual([`redriven/${key}`]);
    expect(await listDirectoryObjects(join(dir, 'missing'), 'aws/lambda/')).toEqual([]);
  });
});
