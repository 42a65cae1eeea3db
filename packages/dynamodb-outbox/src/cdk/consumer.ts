import { Duration, Validations } from 'aws-cdk-lib';
import { AttributeType, Billing, type ITable, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type EventPattern, type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IDestination } from 'aws-cdk-lib/aws-lambda';
import { type IQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { consumerSettings, transactionalConsumerSettings } from '../runtime/settings.js';
import { outputPrefix, QUEUE_URL_OUTPUT_SUFFIX, RULE_ARN_OUTPUT_SUFFIX } from '../runtime/stack-outputs.js';
import { IDEMPOTENCY_TABLE, type Subscription } from '../runtime/subscription.js';
import { contractEnv } from './contract.js';
import { PowertoolsFunction, type PowertoolsFunctionProps } from './function.js';
import { grantOnTable, grantSendOnly } from './grants.js';
import { addCliOutputs } from './outputs.js';
import { tableSafety } from './table-safety.js';
import type { TransactionalOutbox } from './transactional-outbox.js';

/** Lambda's limits for asynchronous invocation retries. */
const MAX_ASYNC_RETRY_ATTEMPTS = 2;
const MAX_ASYNC_EVENT_AGE = Duration.hours(6);

/** What a consumer needs of the outbox it subscribes to: `TransactionalOutbox` is one. */
export interface OutboxEventSource {
  /** The bus the outbox publishes to: the subscription's rule is created on it. */
  readonly eventBus: IEventBus;
  /**
   * How long after an event was first published it may be published again upstream of the bus
   * (stream retries, reconciler): the first part of the consumer's idempotency window.
   */
  readonly redeliveryWindow: Duration;
}

export interface OutboxConsumerProps {
  /** The outbox whose events this consumer takes. */
  readonly outbox: OutboxEventSource;
  /** Rule pattern and target retry policy; the offline event bus routes with the same object. */
  readonly subscription: Subscription;
  /** Absolute path of the handler module. */
  readonly entry: string;
  /**
   * Everything else about the function (memory, timeout, log level, environment, ...).
   * @default the PowertoolsFunction defaults, service name = subscription name
   */
  readonly functionProps?: Omit<PowertoolsFunctionProps, 'entry' | 'serviceName'> & {
    readonly serviceName?: string;
  };
  /**
   * Retries of a failed asynchronous invocation (function error or timeout), 0 to 2.
   * @default 2
   */
  readonly asyncRetryAttempts?: number;
  /**
   * Oldest event Lambda still runs from its asynchronous queue, 1 minute to 6 hours.
   * @default Duration.hours(6)
   */
  readonly asyncMaxEventAge?: Duration;
  /**
   * How long a processed eventId is remembered. Must be at least the redelivery horizon.
   * @default the outbox's redeliveryWindow + the target's maximum event age + asyncMaxEventAge
   */
  readonly idempotencyTtl?: Duration;
  /**
   * How long the dead-letter queue keeps undeliverable events.
   * @default Duration.days(14), the SQS maximum
   */
  readonly deadLetterRetention?: Duration;
  /**
   * Customer managed key for the idempotency table and the dead-letter queue.
   * @default AWS owned keys (DynamoDB owned key, SSE-SQS)
   */
  readonly encryptionKey?: IKey;
  /**
   * Retain the idempotency table when the stack is deleted, with deletion protection.
   * @default false
   */
  readonly retainData?: boolean;
  /**
   * Make this a transactional consumer (`createTransactionalConsumer` in the handler): its state
   * change, the events it emits and its inbox record commit in one TransactWriteItems. No
   * idempotency table is created: the inbox records live in `outbox`'s table, under `INBOX#` keys
   * that its relay and reconciler never read, expiring after `idempotencyTtl`. The function may
   * read and write `table` (Get, Query, Put, Update, Delete, ConditionCheck) and put items in the
   * outbox's table. Not with `encryptionKey` or `retainData`, which apply to the idempotency table.
   * @default none: an idempotent consumer (`createOutboxConsumer`) with a Powertools idempotency table
   */
  readonly transactional?: TransactionalConsumerProps;
}

/** The consumer's own outbox and state, for a transactional consumer. */
export interface TransactionalConsumerProps {
  /** The consumer's own outbox (its table, the default layout): where it emits, and where its inbox lives. */
  readonly outbox: TransactionalOutbox;
  /** The consumer's state: the table its handler reads and writes. */
  readonly table: ITable;
}

/** EventBridge's JSON pattern keys are kebab-case; CDK's `EventPattern` spells `detail-type` camelCase. */
export const toCdkEventPattern = (pattern: Readonly<Record<string, unknown>>): EventPattern => {
  const { 'detail-type': detailType, ...rest } = pattern;
  return { ...rest, ...(detailType === undefined ? {} : { detailType }) } as EventPattern;
};

/**
 * Lambda's on-failure destination needs only sqs:SendMessage; the stock SqsDestination also
 * grants GetQueueAttributes and GetQueueUrl, which nothing here calls.
 */
const sendOnlyQueueDestination = (queue: IQueue): IDestination => ({
  bind: (_scope, fn) => {
    grantSendOnly(queue, fn);
    return { destination: queue.queueArn };
  },
});

/**
 * One subscription to the bus, consumed exactly once in effect: an EventBridge rule with the
 * subscription's pattern; a Lambda target with the subscription's retry policy; one SQS
 * dead-letter queue for both what EventBridge could not deliver and what the function failed on
 * after Lambda's own retries; and a Powertools idempotency table (key `id`, TTL `expiration`)
 * whose window covers every way an event can come again. The stack outputs `<Name>RuleArn` and
 * `<Name>DeadLetterQueueUrl` (the subscription's name) let the CLI replay to the rule alone and
 * report the queue's depth.
 */
export class OutboxConsumer extends Construct {
  /** The consumer function: the subscription's rule target. */
  public readonly function: PowertoolsFunction;
  /** The EventBridge rule with the subscription's pattern, on the outbox's bus. */
  public readonly rule: Rule;
  /** Events neither EventBridge nor Lambda could deliver, after every retry. */
  public readonly deadLetterQueue: Queue;
  /**
   * Powertools idempotency records, one per processed eventId, removed by TTL after
   * `idempotencyTtl`; none for a transactional consumer, whose inbox is in its outbox's table.
   */
  public readonly idempotencyTable: TableV2 | undefined;
  /** How long processed eventIds are remembered (in the function's consumer settings, or its inbox's). */
  public readonly idempotencyTtl: Duration;
  /** Powertools service name: the `service` dimension of the function's metrics. */
  public readonly serviceName: string;

  constructor(scope: Construct, id: string, props: OutboxConsumerProps) {
    super(scope, id);
    const { subscription } = props;
    const asyncRetryAttempts = props.asyncRetryAttempts ?? MAX_ASYNC_RETRY_ATTEMPTS;
    const asyncMaxEventAge = props.asyncMaxEventAge ?? MAX_ASYNC_EVENT_AGE;
    if (!Number.isInteger(asyncRetryAttempts) || asyncRetryAttempts < 0 || asyncRetryAttempts > 2)
      throw new Error(`asyncRetryAttempts must be 0, 1 or 2, got ${asyncRetryAttempts}`);
    if (asyncMaxEventAge.toSeconds() < 60 || asyncMaxEventAge.toSeconds() > MAX_ASYNC_EVENT_AGE.toSeconds())
      throw new Error('asyncMaxEventAge must be between 1 minute and 6 hours');

    const horizon = Duration.seconds(
      props.outbox.redeliveryWindow.toSeconds() +
        subscription.retry.maximumEventAgeSeconds +
        asyncMaxEventAge.toSeconds(),
    );
    if (props.idempotencyTtl !== undefined && props.idempotencyTtl.toSeconds() < horizon.toSeconds())
      throw new Error(
        `idempotencyTtl (${props.idempotencyTtl.toSeconds()} s) is shorter than the redelivery horizon ` +
          `(${horizon.toSeconds()} s): a late duplicate would be applied twice`,
      );
    this.idempotencyTtl = props.idempotencyTtl ?? horizon;

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      retentionPeriod: props.deadLetterRetention ?? Duration.days(14),
      enforceSSL: true,
      ...(props.encryptionKey
        ? { encryption: QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey }
        : { encryption: QueueEncryption.SQS_MANAGED }),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue of the subscription: the last stop for events neither ' +
        'EventBridge nor Lambda could deliver. A DLQ behind it would never receive anything; its depth is ' +
        'alarmed on instead.',
    });
    // EventBridge writes to the queue as itself: with a customer managed key it needs the key too.
    props.encryptionKey?.grantEncryptDecrypt(new ServicePrincipal('events.amazonaws.com'));

    const { transactional } = props;
    if (transactional !== undefined)
      for (const conflicting of ['encryptionKey', 'retainData'] as const)
        if (props[conflicting] !== undefined)
          throw new Error(
            `OutboxConsumer: ${conflicting} applies to the idempotency table, which a transactional consumer does not have`,
          );
    this.idempotencyTable = transactional
      ? undefined
      : new TableV2(this, 'IdempotencyTable', {
          partitionKey: { name: IDEMPOTENCY_TABLE.partitionKey, type: AttributeType.STRING },
          timeToLiveAttribute: IDEMPOTENCY_TABLE.timeToLiveAttribute,
          billing: Billing.onDemand(),
          ...tableSafety(props),
        });

    const { serviceName, environment, ...functionProps } = props.functionProps ?? {};
    this.serviceName = serviceName ?? subscription.name;
    this.function = new PowertoolsFunction(this, 'Function', {
      ...functionProps,
      entry: props.entry,
      serviceName: this.serviceName,
      environment: {
        ...environment,
        ...(transactional
          ? contractEnv('OutboxConsumer', transactionalConsumerSettings, {
              inboxTtlSeconds: this.idempotencyTtl.toSeconds(),
              outbox: transactional.outbox.writerSettings,
            })
          : contractEnv('OutboxConsumer', consumerSettings, {
              idempotencyTableName: (this.idempotencyTable as TableV2).tableName,
              idempotencyTtlSeconds: this.idempotencyTtl.toSeconds(),
            })),
      },
      retryAttempts: asyncRetryAttempts,
      maxEventAge: asyncMaxEventAge,
      onFailure: sendOnlyQueueDestination(this.deadLetterQueue),
    });
    if (transactional) {
      // TransactWriteItems is authorized per action, on each item's table: the handler's reads and
      // writes on its state, and Put for the inbox record and the outbox items
      // (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
      grantOnTable(transactional.table, this.function, [
        'dynamodb:GetItem',
        'dynamodb:Query',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:ConditionCheckItem',
      ]);
      grantOnTable(transactional.outbox.table, this.function, ['dynamodb:PutItem']);
    } else if (this.idempotencyTable) {
      // Powertools' persistence layer: put-if-absent, read on conflict, complete, delete on failure.
      grantOnTable(this.idempotencyTable, this.function, [
        'dynamodb:PutItem',
        'dynamodb:GetItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
      ]);
    }

    this.rule = new Rule(this, 'Rule', {
      eventBus: props.outbox.eventBus,
      description: `${subscription.name}: ${JSON.stringify(subscription.eventPattern)}`.slice(0, 512),
      eventPattern: toCdkEventPattern(subscription.eventPattern),
    });
    this.rule.addTarget(
      new LambdaFunction(this.function, {
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: subscription.retry.maximumRetryAttempts,
        maxEventAge: Duration.seconds(subscription.retry.maximumEventAgeSeconds),
      }),
    );
    const prefix = outputPrefix(subscription.name);
    addCliOutputs(this, {
      [`${prefix}${RULE_ARN_OUTPUT_SUFFIX}`]: {
        value: this.rule.ruleArn,
        description: `Rule of the ${subscription.name} subscription: replay --rule ${prefix} replays to it alone`,
      },
      [`${prefix}DeadLetter${QUEUE_URL_OUTPUT_SUFFIX}`]: {
        value: this.deadLetterQueue.queueUrl,
        description: `Events the ${subscription.name} consumer could not take`,
      },
    });
  }
}
