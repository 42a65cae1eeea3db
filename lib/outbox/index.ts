/**
 * The outbox's CDK surface: what a service writes to add a transactional outbox to its table and
 * consume the events of one. The runtime side is in lambdas/outbox (OutboxWriter, consumers).
 */
export {
  type OutboxLayout,
  type SameTableLayout,
  type SameTableLayoutOptions,
  sameTableLayout,
  TIME_ORDERED_TABLE_LAYOUT,
  type TimeOrderedLayout,
} from '../../lambdas/outbox/layout';
export type { Subscription } from '../../lambdas/outbox/subscription';
export { MAXIMUM_TARGET_RETRY } from '../../lambdas/outbox/subscription';
export { OutboxConsumer, type OutboxConsumerProps, type OutboxEventSource } from './consumer';
export { type FunctionDefaults, PowertoolsFunction, type PowertoolsFunctionProps } from './function';
export { OutboxMonitoring, type OutboxMonitoringProps } from './monitoring';
export { OutboxTable, outboxTableProps } from './outbox-table';
export { OutboxReconciler, type ReconcilerScheduleProps } from './reconciler';
export { OutboxRelay, type RelayMappingProps } from './relay';
export { TransactionalOutbox, type TransactionalOutboxProps } from './transactional-outbox';
