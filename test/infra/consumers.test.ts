import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { beforeAll, describe, expect, it } from 'vitest';
import { inventorySubscription } from '../../lambdas/shared/subscriptions';
import { readStageConfig } from '../../lib/config';
import { IdempotentConsumer } from '../../lib/constructs/idempotent-consumer';
import { Inventory } from '../../lib/constructs/inventory';
import { OrdersStack } from '../../lib/orders-stack';

const synth = (props: { upstreamRedeliveryWindow?: Duration; logRemovalPolicy?: RemovalPolicy } = {}) => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'ConsumerTest');
  const eventBus = new EventBus(stack, 'Bus');
  const inventory = new Inventory(stack, 'Inventory', { eventBus, eventSource: 'orders', ...props });
  return { stack, inventory, template: Template.fromStack(stack) };
};

/** All statements of the policies attached to the role of the function with `logicalId`. */
const statementsOf = (template: Template, functionLogicalId: string) => {
  const fn = template.findResources('AWS::Lambda::Function')[functionLogicalId];
  const roleId = fn?.Properties.Role['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
};

/** The first synth of a process fingerprints the project for the function assets: slow on a busy machine. */
const SYNTH_TIMEOUT_MS = 60_000;

describe('inventory consumer infrastructure', () => {
  let template: Template;
  let inventory: Inventory;
  let stack: Stack;

  beforeAll(() => {
    ({ template, inventory, stack } = synth());
  }, SYNTH_TIMEOUT_MS);

  const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(construct.node.defaultChild as never);

  it('subscribes with exactly the pattern the offline bus routes with', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: Match.stringLikeRegexp('^Bus') },
      EventPattern: inventorySubscription('orders').eventPattern,
      State: 'ENABLED',
    });
  });

  it('targets the function with the subscription retry policy and the consumer dead-letter queue', () => {
    const dlq = logicalId(inventory.consumer.deadLetterQueue);
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalId(inventory.consumer.function), 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
        }),
      ],
    });
  });

  it('sends what the function still fails on after Lambda retries to the same dead-letter queue', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(inventory.consumer.function) },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 6 * 3600,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(inventory.consumer.deadLetterQueue), 'Arn'] } },
      },
    });
  });

  it('encrypts the dead-letter queue, refuses plain HTTP, and lets only this rule write to it', () => {
    const dlq = logicalId(inventory.consumer.deadLetterQueue);
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: dlq }],
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
            Condition: {
              ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [logicalId(inventory.consumer.rule), 'Arn'] } },
            },
          }),
        ]),
      },
    });
  });

  it('keeps idempotency records in a table keyed on id with TTL on expiration, on demand, with PITR', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
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
    expect(inventory.consumer.idempotencyTtl.toHours()).toBe(54);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          IDEMPOTENCY_TTL_SECONDS: String(54 * 3600),
          IDEMPOTENCY_TABLE_NAME: { Ref: logicalId(inventory.consumer.idempotencyTable) },
          INVENTORY_TABLE_NAME: { Ref: logicalId(inventory.table) },
          POWERTOOLS_SERVICE_NAME: 'inventory',
        }),
      },
    });
  });

  it('widens the window with the upstream redelivery window it is given', () => {
    const { inventory: wider } = synth({ upstreamRedeliveryWindow: Duration.hours(25) });
    expect(wider.consumer.idempotencyTtl.toHours()).toBe(55);
  });

  it('grants the function exactly the actions it uses', () => {
    const statements = statementsOf(template, logicalId(inventory.consumer.function));
    const byResource = (id: string) =>
      statements
        .filter((s) => JSON.stringify(s.Resource).includes(`"${id}"`))
        .map((s) => [s.Action].flat().sort());
    expect(byResource(logicalId(inventory.consumer.idempotencyTable))).toEqual([
      ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    ]);
    expect(byResource(logicalId(inventory.table))).toEqual([
      ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
    ]);
    expect(byResource(logicalId(inventory.consumer.deadLetterQueue))).toEqual([['sqs:SendMessage']]);
    const others = statements.filter(
      (s) =>
        ![inventory.consumer.idempotencyTable, inventory.table, inventory.consumer.deadLetterQueue].some(
          (c) => JSON.stringify(s.Resource).includes(`"${logicalId(c)}"`),
        ),
    );
    expect(others.map((s) => [s.Action].flat().sort())).toEqual([
      ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
    ]);
  });

  it('retains the consumer log group unless told otherwise', () => {
    const logGroupPolicy = (t: Template) =>
      Object.values(t.findResources('AWS::Logs::LogGroup')).map((g) => g.DeletionPolicy);
    expect(logGroupPolicy(template)).toEqual(['Retain']);
    expect(logGroupPolicy(synth({ logRemovalPolicy: RemovalPolicy.DESTROY }).template)).toEqual(['Delete']);
  });

  it('refuses an idempotency window shorter than the redelivery horizon', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Short');
    expect(
      () =>
        new IdempotentConsumer(stack, 'C', {
          eventBus: new EventBus(stack, 'Bus'),
          subscription: inventorySubscription('orders'),
          entry: 'unused.ts',
          idempotencyTtl: Duration.hours(1),
        }),
    ).toThrow(/shorter than the redelivery horizon/);
  });
});

describe('the orders stack', () => {
  let stack: OrdersStack;
  let template: Template;

  beforeAll(() => {
    const context: Record<string, string> = { stage: 'dev', archiveRetentionDays: '45' };
    stack = new OrdersStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Orders', {
      config: readStageConfig((key) => context[key]),
    });
    template = Template.fromStack(stack);
  }, SYNTH_TIMEOUT_MS);

  it('archives every published event on the bus for the configured retention', () => {
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [stack.getLogicalId(stack.eventBus.node.defaultChild as never), 'Arn'] },
      EventPattern: { source: ['orders'] },
      RetentionDays: 45,
    });
  });

  it('subscribes the inventory consumer to the stack bus', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: stack.getLogicalId(stack.eventBus.node.defaultChild as never) },
      EventPattern: inventorySubscription('orders').eventPattern,
    });
  });

  it('sizes the idempotency window to the stream replay window, the reconciler, EventBridge and Lambda retries', () => {
    // 24 h stream + 15 min threshold + 5 min interval, + 24 h EventBridge retries, + 6 h Lambda retries.
    expect(stack.inventory.consumer.idempotencyTtl.toSeconds()).toBe(
      24 * 3600 + 15 * 60 + 5 * 60 + 24 * 3600 + 6 * 3600,
    );
  });

  it('outputs what the outbox CLI reads', () => {
    const outputs = template.findOutputs('*');
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining([
        'OutboxTableName',
        'EventBusName',
        'EventSource',
        'OutboxRetentionDays',
        'PoisonQueueUrl',
        'RelayFailureQueueUrl',
        'InventoryDeadLetterQueueUrl',
      ]),
    );
    expect(outputs.InventoryDeadLetterQueueUrl?.Value).toEqual({
      Ref: stack.getLogicalId(stack.inventory.consumer.deadLetterQueue.node.defaultChild as never),
    });
  });
});
