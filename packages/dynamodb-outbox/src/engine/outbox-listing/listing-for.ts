import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { OutboxLayout } from '../../runtime/layout.js';
import { byTableKey } from './by-table-key.js';
import { byTimeIndex } from './by-time-index.js';
import type { ItemsByTime } from './items-by-time.js';

/** The one place the engine tells the layouts apart: how a minute's outbox items are listed. */
export const listingFor = (
  doc: DynamoDBDocumentClient,
  tableName: string,
  layout: OutboxLayout,
): ItemsByTime =>
  layout.kind === 'time-ordered-table'
    ? byTableKey(doc, tableName, layout)
    : byTimeIndex(doc, tableName, layout);
