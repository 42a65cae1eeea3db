import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readStageConfig } from '../../lib/config';
import { OrdersTable } from '../../lib/constructs/orders-table';
import { OutboxReconciler, type OutboxReconcilerProps } from '../../lib/constructs/outbox-reconciler';
import { OrdersStack } from '../../lib/orders-stack';

const synth = (props: Partial<OutboxReconcilerProps> = {}) => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'ReconcilerTest');
  const table = new OrdersTable(stack, 'Orders').table;
  const eventBus = new EventBus(stack, 'Bus');
  const poisonQueue = new Queue(stack, 'Poison');
  const reconciler = new OutboxReconciler(stack, 'Reconciler', { table, eventBus, poisonQueue, ...props });
  const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as never);
  return {
    template: Template.fromStack(stack),
    reconciler,
    ids: {
      table: id(table),
      bus: id(eventBus),
      queue: id(poisonQueue),
      fn: id(reconciler.handler),
      rule: id(reconciler.schedule),
    },
  };
};

/** The first synth of a process fingerprints the project for the function assets: slow on a busy machine. */
const SYNTH_TIMEOUT_MS = 60_000;

describe('outbox reconciler infrastructure', () => {
  let built: ReturnType<typeof synth>;

  beforeAll(() => {
    built = synth();
  }, SYNTH_TIMEOUT_MS);

  it('runs the function every 5 minutes, without retrying a missed run', () => {
    built.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [built.ids.fn, 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 0 },
        }),
      ],
    });
    built.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: built.ids.fn },
      MaximumRetryAttempts: 0,
    });
  });

  it('configures threshold, batch bound, retention and the relay resources through the environment', () => {
    built.template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 120,
      Environment: {
        Variables: Match.objectLike({
          TABLE_NAME: { Ref: built.ids.table },
          EVENT_BUS_NAME: { Ref: built.ids.bus },
          EVENT_SOURCE: 'orders',
          POISON_QUEUE_URL: { Ref: built.ids.queue },
          OUTBOX_RETENTION_DAYS: '7',
          RECONCILER_THRESHOLD_SECONDS: '900',
          RECONCILER_MAX_ITEMS_PER_RUN: '5000',
          POWERTOOLS_SERVICE_NAME: 'outbox-reconciler',
        }),
      },
    });
  });

  it('may only query the pending index, update outbox items, put events on its bus and park poison', () => {
    const fn = built.template.findResources('AWS::Lambda::Function')[built.ids.fn];
    const roleId = fn?.Properties.Role['Fn::GetAtt'][0];
    const statements = Object.values(built.template.findResources('AWS::IAM::Policy'))
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    const simplified = statements.map((s) => ({ Action: s.Action, Resource: s.Resource }));
    expect(simplified).toEqual(
      expect.arrayContaining([
        {
          Action: 'dynamodb:Query',
          Resource: {
            'Fn::Join': ['', [{ 'Fn::GetAtt': [built.ids.table, 'Arn'] }, '/index/pending-outbox']],
          },
        },
        { Action: 'dynamodb:UpdateItem', Resource: { 'Fn::GetAtt': [built.ids.table, 'Arn'] } },
        { Action: 'events:PutEvents', Resource: { 'Fn::GetAtt': [built.ids.bus, 'Arn'] } },
        { Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [built.ids.queue, 'Arn'] } },
      ]),
    );
    expect(simplified).toHaveLength(5);
    expect(simplified.filter((s) => JSON.stringify(s.Action).includes('xray'))).toEqual([
      { Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: '*' },
    ]);
  });

  it('takes threshold and interval as props', () => {
    const { template, reconciler } = synth({ threshold: Duration.hours(1), interval: Duration.minutes(10) });
    expect(reconciler.threshold.toMinutes()).toBe(60);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ RECONCILER_THRESHOLD_SECONDS: '3600' }) },
    });
  });

  it('retains its log group unless told otherwise', () => {
    const logGroupPolicy = (template: Template) =>
      Object.values(template.findResources('AWS::Logs::LogGroup')).map((g) => g.DeletionPolicy);
    expect(logGroupPolicy(built.template)).toEqual(['Retain']);
    expect(logGroupPolicy(synth({ logRemovalPolicy: RemovalPolicy.DESTROY }).template)).toEqual(['Delete']);
  });

  it('refuses a timeout that would let runs overlap', () => {
    expect(() => synth({ interval: Duration.minutes(2), timeout: Duration.minutes(3) })).toThrow(/overlap/);
  });
});

describe('the orders stack', () => {
  const stackWith = (context: Record<string, string>) =>
    new OrdersStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Orders', {
      config: readStageConfig((key) => context[key]),
    });

  it('runs the reconciler with delivery tracking, on the relay poison queue, with the configured schedule', () => {
    const stack = stackWith({ reconcilerThresholdMinutes: '30', reconcilerIntervalMinutes: '10' });
    const template = Template.fromStack(stack);
    const reconciler = stack.reconciler;
    if (reconciler === undefined) throw new Error('expected a reconciler');
    expect(reconciler.threshold.toMinutes()).toBe(30);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          RECONCILER_THRESHOLD_SECONDS: '1800',
          POISON_QUEUE_URL: { Ref: stack.getLogicalId(stack.relay.poisonQueue.node.defaultChild as never) },
        }),
      },
    });
  });

  it('has no reconciler without delivery tracking: nothing is ever pending', () => {
    const stack = stackWith({ deliveryTracking: 'false' });
    expect(stack.reconciler).toBeUndefined();
    Template.fromStack(stack).resourcePropertiesCountIs(
      'AWS::Events::Rule',
      { ScheduleExpression: Match.anyValue() },
      0,
    );
  });
});
