/**
 * The outbox's CDK surface: what a service writes to add a transactional outbox to its table and
 * consume the events of one. The Lambda side is `dynamodb-outbox/runtime` (OutboxWriter, consumers).
 *
 * @module dynamodb-outbox
 */
export {
  type OutboxLayout,
  type SameTableLayout,
  type SameTableLayoutOptions,
  sameTableLayout,
  TIME_ORDERED_TABLE_LAYOUT,
  type TimeOrderedLayout,
} from '../runtime/layout.js';
export type { Subscription } from '../runtime/subscription.js';
export { MAXIMUM_TARGET_RETRY } from '../runtime/subscription.js';
export {
  OutboxConsumer,
  type OutboxConsumerProps,
  type OutboxEventSource,
  type TransactionalConsumerProps,
} from './consumer.js';
export {
  type EngineFunction,
  type FunctionDefaults,
  PowertoolsFunction,
  type PowertoolsFunctionProps,
  type PowertoolsOptions,
} from './function.js';
export { grantOnTable } from './grants.js';
export {
  type MonitoredApi,
  type MonitoredFunction,
  type MonitoredQueue,
  type MonitoredRelay,
  type OutboxAlarmThresholds,
  OutboxMonitoring,
  type OutboxMonitoringProps,
} from './monitoring.js';
export { OutboxTable, type OutboxTableProps, outboxTableProps } from './outbox-table.js';
export { OutboxReconciler, type OutboxReconcilerProps, type ReconcilerScheduleProps } from './reconciler.js';
export { OutboxRelay, type OutboxRelayProps, type RelayMappingProps } from './relay.js';
export { type TableSafetyOptions, tableSafety } from './table-safety.js';
export { TransactionalOutbox, type TransactionalOutboxProps } from './transactional-outbox.js';
