import { describe, expect, it } from 'vitest';
import { type ConsumerMeasurement, consumerTargets } from '../../../bench/consumer-report';
import { PRICES } from '../../../bench/prices';
import { consumersSection } from '../../../bench/report';
import { summarize } from '../../../bench/stats';

const measurement = (overrides: Partial<ConsumerMeasurement>): ConsumerMeasurement => ({
  name: 'consumer',
  events: 100,
  requestsPerEvent: { TransactWriteItems: 1 },
  writeRequestsPerEvent: 1,
  writeUnitsPerEvent: 6,
  outboxWriteUnitsPerEvent: 0,
  handlerMs: summarize([10, 20, 30]),
  usdPerMillionEvents: 4,
  ...overrides,
});

const idempotent = measurement({
  requestsPerEvent: { PutItem: 1, TransactWriteItems: 1, UpdateItem: 1 },
  writeRequestsPerEvent: 3,
});

describe('consumerTargets', () => {
  it('is met when the transactional consumer costs the idempotency consumer plus its outbox items', () => {
    // Prepare: 2 WRU of outbox items cost $1.25 a million at $0.625 per million WRU.
    const transactional = measurement({
      writeUnitsPerEvent: 8,
      outboxWriteUnitsPerEvent: 2,
      usdPerMillionEvents: 5.25,
    });
    // Act
    const targets = consumerTargets({ memoryMb: 512, idempotent, transactional }, PRICES);
    // Assess
    expect(targets.map((t) => [t.measured, t.met])).toEqual([
      ['8.00 vs 6.00 + 2.00', true],
      ['$5.25 vs $4.00 + $1.25', true],
    ]);
  });

  it('is missed by anything more', () => {
    const transactional = measurement({
      writeUnitsPerEvent: 9,
      outboxWriteUnitsPerEvent: 2,
      usdPerMillionEvents: 5.3,
    });
    expect(consumerTargets({ memoryMb: 512, idempotent, transactional }, PRICES).map((t) => t.met)).toEqual([
      false,
      false,
    ]);
  });
});

describe('consumersSection', () => {
  it('puts every operation of either consumer in a row, with its ratio to the idempotency consumer', () => {
    // Act
    const section = consumersSection({
      memoryMb: 512,
      idempotent,
      transactional: measurement({ writeUnitsPerEvent: 8, outboxWriteUnitsPerEvent: 2 }),
    });
    // Assess
    expect(section).toContain('| PutItem requests per event | 1.00 | 0.00 | ×0.00 |');
    expect(section).toContain('| Write requests per event | 3.00 | 1.00 | ×0.33 |');
    expect(section).toContain('| Write units per event | 6.00 | 8.00 | ×1.33 |');
    expect(section).toContain('| … of which emitted events’ outbox items | 0.00 | 2.00 | – |');
  });
});
