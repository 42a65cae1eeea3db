import type { MarkingMode } from './baseline-relay';
import type { Counts } from './counts';
import { standardWriteUnits } from './dynamodb-units';
import type { DrainResult } from './relay';

/**
 * The delivery-tracking designs side by side: extra DynamoDB write units and write requests per
 * event (AWS's rules, from the sizes and batch sizes this run measured), the drain rate against
 * the plain GetRecords + PutEvents loop of the same run, and the cost per million orders (the
 * tracking-off bill plus the extra write units). Pure, so the report can be recomputed by hand.
 */

export interface TrackingCandidate {
  readonly key: string;
  readonly name: string;
  /** Extra write units per event beyond the tracking-off write path (index entries included). */
  readonly writeUnitsPerEvent: number;
  /** Extra write requests per event (the API's one transaction is not counted). */
  readonly writeRequestsPerEvent: number;
  /** Drain rate ÷ the plain loop's, and what was measured: the real relay or the loop making the same writes. */
  readonly drainRatio: number | undefined;
  readonly drainMeasuredWith: 'relay' | 'loop';
  readonly usdPerMillionOrders: number;
  readonly keepsGuarantee: string;
}

export interface CandidateInputs {
  readonly counts: Counts;
  readonly drain: DrainResult;
  /** Total of the tracking-off design (full batches), and the price of a million write units. */
  readonly trackingOffUsd: number;
  readonly usdPerMillionWriteUnits: number;
  /** Total of the chosen design as the cost model prices it (its own relay durations). */
  readonly receiptsUsd: number;
}

const PUTS_PER_BATCH_WRITE = 25;
const UPDATES_PER_TRANSACTION = 100;

export const trackingCandidates = (inputs: CandidateInputs): TrackingCandidate[] => {
  const { counts, drain } = inputs;
  const on = counts.api.trackingOn;
  // The pending-index entry written with the item, and the index entry the mark removes.
  const indexAtWrite = on.indexWriteUnitsPerOrder;
  const indexRemoved = counts.tracking.indexWriteUnitsPerEvent;
  const updateUnits = counts.tracking.writeUnitsPerEvent - indexRemoved;
  const receipts = drain.receipts;
  const loop = (mode: MarkingMode): number | undefined => {
    const rate = drain.trackingOn.candidateLoopEventsPerSecond?.[mode];
    return rate === undefined ? undefined : rate / drain.trackingOn.baselineEventsPerSecond;
  };
  const cost = (units: number): number => inputs.trackingOffUsd + units * inputs.usdPerMillionWriteUnits;
  const rows: Array<Omit<TrackingCandidate, 'usdPerMillionOrders'> & { usd?: number }> = [
    {
      key: 'mark-per-event',
      name: 'Mark per event (before): conditional UpdateItem, sparse pending index',
      writeUnitsPerEvent: indexAtWrite + updateUnits + indexRemoved,
      writeRequestsPerEvent: 1,
      drainRatio: drain.trackingOn.ratio,
      drainMeasuredWith: 'relay',
      keepsGuarantee: 'yes',
    },
    {
      key: 'transact-updates',
      name: '(a) marks batched: TransactWriteItems of 100 Updates (2 WRU per item)',
      writeUnitsPerEvent: indexAtWrite + 2 * updateUnits + indexRemoved,
      writeRequestsPerEvent: 1 / UPDATES_PER_TRANSACTION,
      drainRatio: loop('transact-update'),
      drainMeasuredWith: 'loop',
      keepsGuarantee: 'yes',
    },
    {
      key: 'batch-put',
      name: '(a) marks batched: BatchWriteItem PutRequest overwriting the whole item, 25 per request',
      writeUnitsPerEvent: indexAtWrite + updateUnits + indexRemoved,
      writeRequestsPerEvent: 1 / PUTS_PER_BATCH_WRITE,
      drainRatio: loop('batch-put'),
      drainMeasuredWith: 'loop',
      keepsGuarantee:
        'yes; but BatchWriteItem takes no condition, so a Put can re-create an item TTL deleted',
    },
    {
      key: 'delete-after-publish',
      name: '(b) delete after publish: BatchWriteItem DeleteRequest, 25 per request',
      writeUnitsPerEvent: indexAtWrite + standardWriteUnits(on.outboxItemBytes) + indexRemoved,
      writeRequestsPerEvent: 1 / PUTS_PER_BATCH_WRITE,
      drainRatio: loop('batch-delete'),
      drainMeasuredWith: 'loop',
      keepsGuarantee: 'yes, but nothing is kept for inspection or replay',
    },
    {
      key: 'receipts-same-table',
      name: '(c) one receipt per invocation, same table: a time-ordered index entry per item (removed by TTL, free)',
      writeUnitsPerEvent: indexAtWrite + receipts.receiptWriteUnitsPerEvent,
      writeRequestsPerEvent: receipts.receiptsPerEvent,
      drainRatio: loop('receipt'),
      drainMeasuredWith: 'loop',
      keepsGuarantee: 'yes',
    },
    {
      key: 'receipts-time-ordered',
      name: '(c)+(d) one receipt per invocation, time-ordered dedicated table (no index) — chosen',
      writeUnitsPerEvent:
        receipts.apiWriteUnitsPerOrder -
        counts.api.trackingOff.writeUnitsPerOrder +
        receipts.receiptWriteUnitsPerEvent,
      writeRequestsPerEvent: receipts.receiptsPerEvent,
      drainRatio: receipts.ratio,
      drainMeasuredWith: 'relay',
      keepsGuarantee: 'yes',
      usd: inputs.receiptsUsd,
    },
  ];
  return rows.map(({ usd, ...row }) => ({
    ...row,
    usdPerMillionOrders: usd ?? cost(row.writeUnitsPerEvent),
  }));
};
