import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { OnFailureDestination, StreamFailureRecord } from './stream-poller.js';

/*
 * The S3 on-failure destination of a stream event source mapping, offline: one JSON object file
 * per discarded batch, in a directory standing for the bucket, under the key AWS documents for
 * these objects (Lambda developer guide, "Retain discarded records for a DynamoDB event source",
 * services-dynamodb-errors):
 *
 *   aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>
 *
 * The object is the invocation record (requestContext, responseContext, version, timestamp,
 * DDBStreamBatchInfo) plus `payload`, the whole invocation event: what `outbox redrive
 * --from-failures` republishes from, here or in the bucket.
 */

/** The prefix Lambda writes failure objects under. */
export const FAILURE_OBJECT_PREFIX = 'aws/lambda/';
/** Where a redrive moves an object it republished, so that a second run finds nothing to do. */
export const REDRIVEN_PREFIX = 'redriven/';
/** The mapping UUID offline; on AWS the event source mapping's own UUID. */
export const LOCAL_MAPPING_UUID = '00000000-0000-4000-8000-000000000000';

const pad = (n: number): string => String(n).padStart(2, '0');

/** The S3 key AWS documents for a failure object of `mappingUuid`'s shard `shardId`, written at `at`. */
export const failureObjectKey = (
  mappingUuid: string,
  shardId: string,
  at: Date,
  id: string = randomUUID(),
): string => {
  const [y, m, d] = [at.getUTCFullYear(), pad(at.getUTCMonth() + 1), pad(at.getUTCDate())];
  const time = `${pad(at.getUTCHours())}.${pad(at.getUTCMinutes())}.${pad(at.getUTCSeconds())}`;
  return `${FAILURE_OBJECT_PREFIX}${mappingUuid}/${shardId}/${y}/${m}/${d}/${y}-${m}-${d}T${time}-${id}`;
};

export interface DirectoryFailureDestinationOptions {
  /** @default LOCAL_MAPPING_UUID */
  readonly mappingUuid?: string;
  /** @default the clock */
  readonly now?: () => Date;
}

/**
 * The poller's on-failure destination as an S3 bucket would hold it: each discarded batch written
 * to `<dir>/<key>` (atomically: a temporary file, then a rename), the key as AWS names it.
 */
export const directoryFailureDestination = (
  dir: string,
  options: DirectoryFailureDestinationOptions = {},
): OnFailureDestination => {
  const mappingUuid = options.mappingUuid ?? LOCAL_MAPPING_UUID;
  const now = options.now ?? (() => new Date());
  return async (failure: StreamFailureRecord): Promise<void> => {
    const path = join(
      dir,
      ...failureObjectKey(mappingUuid, failure.DDBStreamBatchInfo.shardId, now()).split('/'),
    );
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(failure));
    await rename(temporary, path);
  };
};

/** Keys of the objects under `prefix` in a directory standing for a bucket, sorted. */
export const listDirectoryObjects = async (dir: string, prefix: string): Promise<string[]> => {
  const root = join(dir, ...prefix.split('/').filter(Boolean));
  let entries: string[];
  try {
    entries = (await readdir(root, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile() && !e.name.endsWith('.tmp'))
      .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries.sort();
};

export const readDirectoryObject = (dir: string, key: string): Promise<string> =>
  readFile(join(dir, ...key.split('/')), 'utf8');

/** Move `key` to `to` inside the directory, creating folders as needed. */
export const moveDirectoryObject = async (dir: string, key: string, to: string): Promise<void> => {
  const target = join(dir, ...to.split('/'));
  await mkdir(dirname(target), { recursive: true });
  await rename(join(dir, ...key.split('/')), target);
};
