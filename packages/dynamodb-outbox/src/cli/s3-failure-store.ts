import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { FAILURE_OBJECT_PREFIX, REDRIVEN_PREFIX } from '../local/failure-destination.js';
import type { FailureStore } from './redrive-failures.js';
import { UsageError } from './target.js';

/** `s3://bucket` (or `s3://bucket/`): the bucket; `s3://` alone: an empty string. */
export const parseS3Location = (where: string): string | undefined => {
  if (!where.startsWith('s3://')) return undefined;
  const rest = where.slice('s3://'.length).replace(/\/+$/, '');
  if (rest.includes('/'))
    throw new UsageError(
      `${where}: name the bucket only (s3://<bucket>); failure objects are under ${FAILURE_OBJECT_PREFIX}`,
    );
  return rest;
};

/** CopySource is `<bucket>/<key>`, the key URL-encoded (slashes kept). */
const copySource = (bucket: string, key: string): string =>
  `${bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`;

/**
 * The relay mapping's failure bucket: the objects under `aws/lambda/` (every page of
 * ListObjectsV2), each read as text, and moved under `redriven/` with the same key by a copy and
 * then a delete (S3 has no rename). A crash between the two leaves the object in both places; the
 * next run redrives it again and skips its events through delivery tracking, then deletes it.
 */
export const s3FailureStore = (client: S3Client, bucket: string): FailureStore => ({
  description: `bucket s3://${bucket}`,
  list: async () => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: FAILURE_OBJECT_PREFIX,
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      );
      for (const object of page.Contents ?? [])
        if (object.Key !== undefined && !object.Key.endsWith('/')) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys;
  },
  read: async (key) => {
    const { Body } = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (Body === undefined) throw new Error('empty object');
    return Body.transformToString('utf-8');
  },
  markRedriven: async (key) => {
    await client.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: `${REDRIVEN_PREFIX}${key}`,
        CopySource: copySource(bucket, key),
      }),
    );
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  },
});
