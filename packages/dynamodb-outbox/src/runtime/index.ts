/**
 * The Lambda side of the outbox: what a function imports to write events in its transaction and
 * to consume them. Nothing here imports aws-cdk-lib, so a function's bundle never carries it.
 *
 * @module dynamodb-outbox/runtime
 */
export {
  type ConsumerLogger,
  type ConsumerResult,
  createOutboxConsumer,
  EventIdReusedError,
  type IdempotencyPersistence,
  InvalidEventError,
  type OutboxConsumerOptions,
  type OutboxDelivery,
  parseOutboxDelivery,
} from './consumer.js';
export { type ConsumerSettings, consumerSettings } from './consumer-settings.js';
export { type EnvContract, type EnvMap, InvalidSettingsError } from './env-contract.js';
export {
  describeIssues,
  type EventEnvelope,
  eventEnvelopeSchema,
  type TypedEnvelope,
  toEnvelope,
} from './envelope.js';
export {
  type OutboxLayout,
  type SameTableLayout,
  type SameTableLayoutOptions,
  sameTableLayout,
  TIME_ORDERED_TABLE_LAYOUT,
  type TimeOrderedLayout,
} from './layout.js';
export { type InstrumentOptions, instrumented, logger, metrics, traced } from './powertools.js';
export {
  type TransactionalConsumerSettings,
  transactionalConsumerSettings,
  type WriterSettings,
  writerSettings,
} from './settings.js';
export { MAXIMUM_TARGET_RETRY, type Subscription } from './subscription.js';
export {
  createTransactionalConsumer,
  EffectRejectedError,
  type EffectRejection,
  MAX_CONFLICT_ATTEMPTS,
  type TransactionalConsumerOptions,
  type TransactionalEffect,
  type TransactionalOutcome,
  TransactionConflictError,
} from './transactional-consumer.js';
export {
  checkTransactionLimits,
  OutboxWriteError,
  OutboxWriter,
  type OutboxWriterOptions,
  TRANSACTION_LIMITS,
  type TransactItem,
} from './writer.js';
