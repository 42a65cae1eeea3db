import type { PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';

const TIME_BYTES = 14;

/** UTF-8 byte length of a string. */
export const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/**
 * Size of a PutEvents entry exactly as EventBridge counts it against its limits
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html):
 * Time is 14 bytes when present; Source and DetailType count their UTF-8 bytes; Detail its
 * UTF-8 bytes when present; each Resources element its UTF-8 bytes. EventBusName and
 * TraceHeader are not part of the documented sum.
 */
export const putEventsEntrySize = (entry: PutEventsRequestEntry): number => {
  let size = 0;
  if (entry.Time !== undefined) size += TIME_BYTES;
  if (entry.Source !== undefined) size += utf8Bytes(entry.Source);
  if (entry.DetailType !== undefined) size += utf8Bytes(entry.DetailType);
  if (entry.Detail !== undefined) size += utf8Bytes(entry.Detail);
  for (const resource of entry.Resources ?? []) {
    if (resource !== undefined && resource !== null) size += utf8Bytes(resource);
  }
  return size;
};
