/**
 * The offline runtime, for a test of an app that uses the outbox: `startLocalRuntime()` synthesizes
 * the CDK app in a directory and runs its template on this machine (DynamoDB Local, a local
 * EventBridge, SQS and Lambda endpoints), as `dynamodb-outbox local` does.
 *
 * @module dynamodb-outbox/local
 */
export type { AcceptedEvent } from './event-bus.js';
export type { InvocationOutcome, LocalFunction } from './functions.js';
export type { ResponseInfo } from './http-server.js';
export {
  type LocalMapping,
  type LocalRuntime,
  type LocalRuntimeOptions,
  startLocalRuntime,
} from './runtime.js';
