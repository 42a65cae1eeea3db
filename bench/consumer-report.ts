import type { PriceTable } from './prices';
import type { TargetResult } from './results';
import type { Summary } from './stats';

/*
 * What the consumer comparison (consumers.ts) measured, its targets and its section of the
 * report: pure, so that the report renders it without loading the consumers.
 */

export interface ConsumerMeasurement {
  readonly name: string;
  readonly events: number;
  /** DynamoDB requests per event, by operation. */
  readonly requestsPerEvent: Record<string, number>;
  readonly writeRequestsPerEvent: number;
  /** By AWS's rules: standard writes 1 WRU per started KB, transactional 2 per item and started KB. */
  readonly writeUnitsPerEvent: number;
  /** Of which the emitted events' outbox items. */
  readonly outboxWriteUnitsPerEvent: number;
  /** One invocation, start to result, at concurrency 1. */
  readonly handlerMs: Summary;
  readonly usdPerMillionEvents: number;
}

export interface ConsumerComparison {
  readonly memoryMb: number;
  readonly idempotent: ConsumerMeasurement;
  readonly transactional: ConsumerMeasurement;
}

/** Issue 17's target: the transactional consumer costs at most the idempotency consumer plus its events' outbox items. */
export const consumerTargets = (comparison: ConsumerComparison, prices: PriceTable): TargetResult[] => {
  const { idempotent, transactional } = comparison;
  const outboxUsd =
    transactional.outboxWriteUnitsPerEvent * prices.prices.dynamoDbWriteRequestUnit.usd * 1_000_000;
  const unitsBudget = idempotent.writeUnitsPerEvent + transactional.outboxWriteUnitsPerEvent;
  const usdBudget = idempotent.usdPerMillionEvents + outboxUsd;
  const fixed = (n: number) => n.toFixed(2);
  return [
    {
      name: 'Transactional consumer write units per event vs idempotency consumer + emitted outbox items',
      target: '≤ idempotency consumer + outbox items',
      measured: `${fixed(transactional.writeUnitsPerEvent)} vs ${fixed(idempotent.writeUnitsPerEvent)} + ${fixed(transactional.outboxWriteUnitsPerEvent)}`,
      met: transactional.writeUnitsPerEvent <= unitsBudget + 1e-9,
    },
    {
      name: 'Transactional consumer $ per million events vs idempotency consumer + emitted outbox items',
      target: '≤ idempotency consumer + outbox items',
      measured: `$${fixed(transactional.usdPerMillionEvents)} vs $${fixed(idempotent.usdPerMillionEvents)} + $${fixed(outboxUsd)}`,
      met: transactional.usdPerMillionEvents <= usdBudget + 1e-9,
    },
  ];
};
