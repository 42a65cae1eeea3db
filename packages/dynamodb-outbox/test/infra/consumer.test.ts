import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxConsumer, type OutboxConsumerProps } from '../../src/cdk/consumer';
import { consumerSettings } from '../../src/runtime/settings';
import { MAXIMUM_TARGET_RETRY, type Subscription } from '../../src/runtime/subscription';
import {
  arnOf,
  environmentOf,
  permissionsOf,
  refMarkerOf,
  refOf,
  removeTestApps,
  settingsLike,
  testApp,
  withBaseGrants,
} from '../support/infra';

/** Any handler module will do: bundling is skipped, but the entry must exist. */
const ENTRY = fileURLToPath(new URL('../fixtures/handler.ts', import.meta.url));

const subscription: Subscription = {
  name: 'billing',
  eventPattern: { source: ['shop'], 'detail-type': ['OrderPlaced'] },
  retry: MAXIMUM_TARGET_RETRY,
};

const synth = (props: Partial<OutboxConsumerProps> & { redeliveryWindow?: Duration } = {}) => {
  const stack = new Stack(testApp(), 'ConsumerTest');
  const eventBus = new EventBus(stack, 'Bus');
  const { redeliveryWindow = Duration.hours(24), ...rest } = props;
  const consumer = new OutboxConsumer(stack, 'Consumer', {
    outbox: { eventBus, redeliveryWindow },
    subscription,
    entry: ENTRY,
    ...rest,
  });
  return { stack, eventBus, consumer, template: Template.fromStack(stack) };
};

afterAll(removeTestApps);

describe('OutboxConsumer', () => {
  let built: ReturnType<typeof synth>;

  beforeAll(() => {
    built = synth();
  }, 60_000);

  it("subscribes on the outbox's bus with exactly the subscription's pattern", () => {
    built.template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: refOf(built.eventBus),
      EventPattern: subscription.eventPattern,
      State: 'ENABLED',
    });
  });

  it("targets the function with the subscription's retry policy and the consumer's dead-letter queue", () => {
    const { consumer, template } = built;
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          Arn: arnOf(consumer.function),
          RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 },
          DeadLetterConfig: { Arn: arnOf(consumer.deadLetterQueue) },
        }),
      ],
    });
  });

  it('sends what the function still fails on after Lambda retries to the same dead-letter queue', () => {
    const { consumer, template } = built;
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: refOf(consumer.function),
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: arnOf(consumer.deadLetterQueue) } },
    });
  });

  it('encrypts the dead-letter queue, refuses plain HTTP, and lets only its rule write to it', () => {
    const { consumer, template } = built;
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [refOf(consumer.deadLetterQueue)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Condition: { ArnEquals: { 'aws:SourceArn': arnOf(consumer.rule) } },
          }),
        ]),
      },
    });
  });

  it('keeps idempotency records in a table keyed on id with TTL on expiration, on demand, with PITR', () => {
    built.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
      Replicas: [
        Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
      ],
    });
  });

  it('remembers eventIds for the whole redelivery horizon: upstream 24 h + EventBridge 24 h + Lambda 6 h', () => {
    const { consumer, template } = built;
    expect(consumer.idempotencyTtl.toHours()).toBe(54);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'billing',
          [consumerSettings.variable]: settingsLike({
            idempotencyTableName: refMarkerOf(consumer.idempotencyTable),
            idempotencyTtlSeconds: 54 * 3600,
          }),
        }),
      },
    });
  });

  it("widens the window with the outbox's redelivery window", () => {
    expect(synth({ redeliveryWindow: Duration.hours(25) }).consumer.idempotencyTtl.toHours()).toBe(55);
  });

  it("keeps the caller's environment beside its settings", () => {
    const { consumer, template } = synth({ functionProps: { environment: { LEDGER_TABLE_NAME: 'ledger' } } });
    expect(environmentOf(template, consumer.function)).toMatchObject({
      LEDGER_TABLE_NAME: 'ledger',
      [consumerSettings.variable]: expect.anything(),
    });
  });

  it('grants the function exactly what idempotency and the dead-letter queue need', () => {
    const { consumer, template } = built;
    const table = arnOf(consumer.idempotencyTable);
    expect(permissionsOf(template, consumer.function.executionRole)).toEqual(
      withBaseGrants(consumer.function.logGroup, [
        { action: 'dynamodb:DeleteItem', resource: table },
        { action: 'dynamodb:GetItem', resource: table },
        { action: 'dynamodb:PutItem', resource: table },
        { action: 'dynamodb:UpdateItem', resource: table },
        { action: 'sqs:SendMessage', resource: arnOf(consumer.deadLetterQueue) },
      ]),
    );
  });

  it('retains the log group unless told otherwise', () => {
    const logGroupPolicy = (t: Template) =>
      Object.values(t.findResources('AWS::Logs::LogGroup')).map((g) => g.DeletionPolicy);
    expect(logGroupPolicy(built.template)).toEqual(['Retain']);
    const destroyed = synth({ functionProps: { logRemovalPolicy: RemovalPolicy.DESTROY } });
    expect(logGroupPolicy(destroyed.template)).toEqual(['Delete']);
  });

  it('refuses an idempotency window shorter than the redelivery horizon, and async retries out of range', () => {
    expect(() => synth({ idempotencyTtl: Duration.hours(1) })).toThrow(/shorter than the redelivery horizon/);
    expect(() => synth({ asyncRetryAttempts: 3 })).toThrow(/asyncRetryAttempts/);
    expect(() => synth({ asyncMaxEventAge: Duration.hours(7) })).toThrow(/asyncMaxEventAge/);
  });
});
