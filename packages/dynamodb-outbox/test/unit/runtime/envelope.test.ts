import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { describeIssues, eventEnvelopeSchema, toEnvelope } from '../../../src/runtime/envelope';
import { outboxItem } from '../../support/unit';

describe('toEnvelope', () => {
  it('keeps the contract fields, in contract order, and drops keys and tracking attributes', () => {
    // Prepare
    const item = outboxItem(1, { correlationId: 'corr-1', traceHeader: 'Root=1', publishedAt: 'x' });
    // Act
    const envelope = toEnvelope(item);
    // Assess
    expect(Object.keys(envelope)).toEqual([
      'eventId',
      'eventType',
      'aggregateType',
      'aggregateId',
      'sequence',
      'occurredAt',
      'schemaVersion',
      'correlationId',
      'payload',
    ]);
    expect(z.strictObject(eventEnvelopeSchema.shape).parse(envelope)).toEqual(envelope);
  });

  it('leaves out a correlationId the event does not have', () => {
    expect(toEnvelope(outboxItem(1))).not.toHaveProperty('correlationId');
  });
});

describe('describeIssues', () => {
  it('names the field paths and messages, under a prefix, never the values', () => {
    // Prepare
    const parsed = eventEnvelopeSchema.safeParse({
      ...outboxItem(1),
      sequence: -1,
      occurredAt: 'jane@example.com',
    });
    // Act
    const description = parsed.success ? '' : describeIssues(parsed.error, 'detail');
    // Assess
    expect(description).toMatch(/^detail\.sequence: .+; detail\.occurredAt: .+$/);
    expect(description).not.toContain('jane@example.com');
  });

  it('describes at most five issues, and a value with no path as (value)', () => {
    // Prepare
    const many = z.object({
      a: z.string(),
      b: z.string(),
      c: z.string(),
      d: z.string(),
      e: z.string(),
      f: z.string(),
    });
    const manyIssues = many.safeParse({});
    const rootIssue = z.string().safeParse(1);
    // Act + Assess
    expect(
      manyIssues.success
        ? ''
        : describeIssues(manyIssues.error)
            .split('; ')
            .map((i) => i.split(':')[0]),
    ).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(rootIssue.success ? '' : describeIssues(rootIssue.error)).toMatch(/^\(value\): /);
  });
});
