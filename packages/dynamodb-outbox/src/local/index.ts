/**
 * The offline runtime, for a test of an app that uses the outbox: `startLocalRuntime()` synthesizes
 * the CDK app in a directory and runs its template on this machine (DynamoDB Local, a local
 * EventBridge, SQS and Lambda endpoints), as `dynamodb-outbox local` does.
 *
 * @module dynamodb-outbox/local
 */
export type { PutEventsLimits } from '../runtime/limits.js';
export type { DynamoDbLocal, DynamoDbLocalExit } from './dynamodb.js';
export type { FaultSettings } from './event-bus/fault-settings.js';
export type {
  AcceptedEvent,
  BusEvent,
  BusStats,
  DeadLetter,
  EventTarget,
  LocalEventBus,
  LocalEventBusOptions,
  ReplayRequest,
  ReplayResult,
} from './event-bus.js';
export type { FunctionDefinition, InvocationOutcome, LocalFunction } from './functions.js';
export type { ResponseInfo } from './http-server.js';
export type { LocalLambdaEndpoint } from './lambda-endpoint.js';
export {
  type LocalMapping,
  type LocalRuntime,
  type LocalRuntimeOptions,
  startLocalRuntime,
} from './runtime.js';
export type { LocalSqs } from './sqs.js';
export type {
  CheckpointStore,
  OnFailureDestination,
  PollerLogger,
  ShardCheckpoint,
  StreamFailureRecord,
  StreamHandler,
  StreamPoller,
  StreamPollerOptions,
  StreamPollerStats,
} from './stream-poller.js';
export type { Synthesized } from './synth.js';
