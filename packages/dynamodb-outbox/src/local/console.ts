import type { AcceptedEvent } from './event-bus.js';
import type { InvocationOutcome } from './functions.js';

/**
 * The lines `dynamodb-outbox local` prints as events go by: each names the event id and its
 * aggregate (`Order 01J…`), so a person can follow one aggregate from published to consumed.
 */

const field = (value: unknown, name: string): unknown =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;

/** `Order 01J…` from an outbox envelope's aggregateType and aggregateId; '' when it has neither. */
const aggregateOf = (detail: unknown): string => {
  const type = field(detail, 'aggregateType');
  const id = field(detail, 'aggregateId');
  return typeof type === 'string' && typeof id === 'string' ? `  ${type} ${id}` : '';
};

/** Tells a first delivery from a redelivery of the same eventId. */
export const createEventReporter = () => {
  const seen = new Set<string>();
  return ({ event, receivedAt }: AcceptedEvent): string | undefined => {
    const { eventId, occurredAt } = event.detail;
    if (typeof eventId !== 'string') return undefined;
    const lag = typeof occurredAt === 'string' ? Date.parse(receivedAt) - Date.parse(occurredAt) : Number.NaN;
    const again = seen.has(eventId) ? '  (again: delivery is at least once)' : '';
    seen.add(eventId);
    return (
      `event published ${eventId}${aggregateOf(event.detail)}  ${event.source} ${event['detail-type']}` +
      `${Number.isNaN(lag) ? '' : `  lag ${lag}ms`}${again}`
    );
  };
};

/**
 * What a consumer's invocation did, as far as its result says: a duplicate skipped, its outcome
 * (`reserved`, `rejected`, ...), consumed (an outbox consumer's `duplicate: false`), or failed.
 * Undefined for an invocation that is no event's delivery, or whose result says nothing.
 */
export const describeInvocation = (outcome: InvocationOutcome): string | undefined => {
  const detail = field(outcome.event, 'detail');
  const eventId = field(detail, 'eventId');
  if (typeof eventId !== 'string') {
    if (outcome.ok) return undefined;
    return `function failed ${outcome.function}: ${outcome.error?.message ?? 'unknown error'}`;
  }
  const about = `${eventId}${aggregateOf(detail)}  ${outcome.function}`;
  if (!outcome.ok) return `event failed    ${about}: ${outcome.error?.message ?? 'unknown error'}`;
  const duplicate = field(outcome.result, 'duplicate');
  const said = field(outcome.result, 'outcome');
  const what =
    duplicate === true
      ? 'duplicate skipped'
      : typeof said === 'string'
        ? said
        : duplicate === false
          ? 'consumed'
          : undefined;
  return what === undefined ? undefined : `event consumed  ${about}: ${what}`;
};
