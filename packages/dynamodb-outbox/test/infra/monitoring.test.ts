import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { OutboxMonitoring, type OutboxMonitoringProps } from '../../src/cdk/monitoring';
import { MetricName } from '../../src/runtime/metric-names';
import { removeTestApps, testApp } from '../support/infra';

const PREFIX = 'Outbox';

/** The API's own count metric, charted beside the events published. */
const COMMITS = { name: 'OrdersPlaced', label: 'orders placed' };

afterAll(removeTestApps);

const fakeFunction = (stack: Stack, id: string) =>
  new LambdaFunction(stack, id, {
    runtime: Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: Code.fromInline('export const handler = async () => {};'),
  });

/** A stack with every part the monitoring construct can watch, passed as props. */
const monitoredStack = (overrides: Partial<OutboxMonitoringProps> = {}) => {
  const stack = new Stack(testApp(), 'MonitoringTest');
  const relay = fakeFunction(stack, 'Relay');
  const reconciler = fakeFunction(stack, 'Reconciler');
  const consumer = fakeFunction(stack, 'Consumer');
  const api = new HttpApi(stack, 'Api');
  const poison = new Queue(stack, 'Poison');
  const consumerDlq = new Queue(stack, 'ConsumerDlq');
  const monitoring = new OutboxMonitoring(stack, 'Monitoring', {
    namePrefix: PREFIX,
    metricsNamespace: 'OutboxTest',
    relay: { function: relay, serviceName: 'outbox-relay' },
    api: { api, serviceName: 'orders-api', commitsMetric: COMMITS },
    reconciler: { function: reconciler, serviceName: 'outbox-reconciler' },
    consumers: [{ function: consumer, serviceName: 'inventory' }],
    deadLetterQueues: [
      { name: 'relay-poison', queue: poison },
      { name: 'inventory-dlq', queue: consumerDlq },
    ],
    ...overrides,
  });
  return { stack, monitoring, template: Template.fromStack(stack), relay, api, poison, consumerDlq };
};

/** Synthesized once: the tests below only read it. */
let defaults: ReturnType<typeof monitoredStack> | undefined;
const defaultStack = () => {
  defaults ??= monitoredStack();
  return defaults;
};

const alarmNamed = (template: Template, name: string) => {
  const alarms = template.findResources('AWS::CloudWatch::Alarm', {
    Properties: { AlarmName: `${PREFIX}-${name}` },
  });
  const found = Object.values(alarms);
  expect(found, `alarm ${PREFIX}-${name}`).toHaveLength(1);
  return found[0]?.Properties as Record<string, unknown>;
};

const topicRef = (template: Template) => {
  const [topicId] = Object.keys(template.findResources('AWS::SNS::Topic'));
  return { Ref: topicId };
};

describe('OutboxMonitoring alarms', () => {
  it('alarms when the stream iterator age stays above 5 minutes for 3 minutes', () => {
    // Prepare / Act
    const { template, stack, relay } = defaultStack();

    // Assess
    expect(alarmNamed(template, 'RelayIteratorAge')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Dimensions: [{ Name: 'FunctionName', Value: stack.resolve(relay.functionName) }],
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 300_000,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'notBreaching',
    });
  });

  it('alarms on any relay error in five minutes', () => {
    const { template, stack, relay } = defaultStack();

    expect(alarmNamed(template, 'RelayErrors')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: stack.resolve(relay.functionName) }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('alarms when the relay lag p99 exceeds 30 s for two periods, on the RelayLag metric of the relay service', () => {
    const { template } = defaultStack();

    expect(alarmNamed(template, 'RelayLagP99')).toMatchObject({
      Namespace: 'OutboxTest',
      MetricName: MetricName.RelayLag,
      Dimensions: [{ Name: 'service', Value: 'outbox-relay' }],
      ExtendedStatistic: 'p99',
      Period: 300,
      Threshold: 30_000,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 2,
    });
  });

  it('alarms when the reconciler republishes any stuck event, and when it fails', () => {
    const { template, stack } = defaultStack();

    expect(alarmNamed(template, 'ReconcilerRepublished')).toMatchObject({
      Namespace: 'OutboxTest',
      MetricName: MetricName.ReconcilerRepublished,
      Dimensions: [{ Name: 'service', Value: 'outbox-reconciler' }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    const reconcilerErrors = alarmNamed(template, 'ReconcilerErrors');
    expect(reconcilerErrors).toMatchObject({ MetricName: 'Errors', Threshold: 1 });
    expect(JSON.stringify(stack.resolve(reconcilerErrors.Dimensions))).toContain('Reconciler');
  });

  it('alarms when events stay stuck on three reconciler runs in a row, and when the reconciler parks any after its retries', () => {
    const { template } = defaultStack();

    template.hasResourceProperties(
      'AWS::CloudWatch::Alarm',
      Match.objectLike({
        AlarmName: `${PREFIX}-ReconcilerStuckEvents`,
        Namespace: 'OutboxTest',
        MetricName: MetricName.ReconcilerStuckEvents,
        Dimensions: [{ Name: 'service', Value: 'outbox-reconciler' }],
        Statistic: 'Maximum',
        Period: 300,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 3,
        DatapointsToAlarm: 3,
        AlarmDescription: Match.stringLikeRegexp('poison queue'),
      }),
    );
    template.hasResourceProperties(
      'AWS::CloudWatch::Alarm',
      Match.objectLike({
        AlarmName: `${PREFIX}-ReconcilerParkedAfterRetries`,
        Namespace: 'OutboxTest',
        MetricName: MetricName.ReconcilerParkedAfterRetries,
        Dimensions: [{ Name: 'service', Value: 'outbox-reconciler' }],
        Statistic: 'Sum',
        Period: 300,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 1,
      }),
    );
  });

  it('alarms on one visible message in each dead-letter queue', () => {
    const { template, stack, poison, consumerDlq } = defaultStack();

    for (const [name, queue] of [
      ['relay-poison', poison],
      ['inventory-dlq', consumerDlq],
    ] as const) {
      expect(alarmNamed(template, `DeadLetters-${name}`)).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: stack.resolve(queue.queueName) }],
        Statistic: 'Maximum',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }
  });

  it('alarms on the API 5xx rate, ignoring periods with fewer requests than the minimum', () => {
    const { template, stack, api } = defaultStack();

    const alarm = alarmNamed(template, 'Api5xxRate');
    expect(alarm).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanThreshold' });
    const queries = alarm.Metrics as Array<Record<string, unknown>>;
    expect(queries.find((q) => q.ReturnData !== false)).toMatchObject({
      Expression: 'IF(requests >= 20, 100 * errors / requests, 0)',
    });
    const apiId = stack.resolve(api.apiId);
    expect(queries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Id: 'errors',
          MetricStat: expect.objectContaining({
            Metric: {
              Namespace: 'AWS/ApiGateway',
              MetricName: '5xx',
              Dimensions: [{ Name: 'ApiId', Value: apiId }],
            },
            Stat: 'Sum',
            Period: 300,
          }),
        }),
        expect.objectContaining({
          Id: 'requests',
          MetricStat: expect.objectContaining({
            Metric: {
              Namespace: 'AWS/ApiGateway',
              MetricName: 'Count',
              Dimensions: [{ Name: 'ApiId', Value: apiId }],
            },
          }),
        }),
      ]),
    );
  });

  it('notifies the topic when every alarm fires and when it recovers', () => {
    const { template, monitoring } = defaultStack();

    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(10);
    expect(monitoring.alarms).toHaveLength(10);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([topicRef(template)]);
      expect(alarm.Properties.OKActions).toEqual([topicRef(template)]);
      expect(alarm.Properties.AlarmDescription).toEqual(expect.any(String));
    }
  });

  it('takes thresholds from props', () => {
    const { template } = monitoredStack({
      thresholds: {
        iteratorAge: Duration.seconds(90),
        relayLagP99: Duration.seconds(5),
        relayErrors: 3,
        api5xxRatePercent: 2.5,
        api5xxMinRequests: 100,
      },
    });

    expect(alarmNamed(template, 'RelayIteratorAge').Threshold).toBe(90_000);
    expect(alarmNamed(template, 'RelayLagP99').Threshold).toBe(5_000);
    expect(alarmNamed(template, 'RelayErrors').Threshold).toBe(3);
    const api = alarmNamed(template, 'Api5xxRate');
    expect(api.Threshold).toBe(2.5);
    expect(JSON.stringify(api.Metrics)).toContain('IF(requests >= 100');
  });

  it('adds alarms for parts handed over after construction', () => {
    // Prepare
    const stack = new Stack(testApp(), 'Later');
    const monitoring = new OutboxMonitoring(stack, 'Monitoring', { namePrefix: PREFIX });
    const relay = fakeFunction(stack, 'Relay');

    // Act
    monitoring.monitorRelay({ function: relay, serviceName: 'outbox-relay' });
    monitoring.monitorDeadLetterQueue({ name: 'relay-failures', queue: new Queue(stack, 'Failures') });

    // Assess
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    alarmNamed(template, 'DeadLetters-relay-failures');
    // The functions' default namespace: the stack's name.
    expect(alarmNamed(template, 'RelayLagP99').Namespace).toBe('Later');
  });
});

describe('OutboxMonitoring alarm topic', () => {
  it('is encrypted with a rotating key that only our alarms may use through CloudWatch', () => {
    const { template } = defaultStack();

    const [keyId] = Object.keys(template.findResources('AWS::KMS::Key'));
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Condition: {
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
              ArnLike: { 'aws:SourceArn': Match.anyValue() },
            },
          }),
        ]),
      },
    });
  });

  it('denies publishing without TLS and lets only our alarms publish', () => {
    const { template } = defaultStack();

    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: Match.objectLike({
              ArnLike: {
                'aws:SourceArn': {
                  'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(`:alarm:${PREFIX}-\\*$`)])],
                },
              },
            }),
          }),
        ]),
      },
    });
  });

  it('subscribes the alarm e-mail address only when one is given', () => {
    const withEmail = monitoredStack({ alarmEmail: 'oncall@example.com' }).template;
    const without = defaultStack().template;

    withEmail.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: topicRef(withEmail),
    });
    without.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});

describe('OutboxMonitoring dashboard', () => {
  /** The dashboard JSON as CloudFormation will join it, references shown as plain text. */
  const dashboardBody = (template: Template): string => {
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const join = dashboards[0]?.Properties.DashboardBody?.['Fn::Join'] as [string, unknown[]] | undefined;
    const parts = join?.[1] ?? [];
    // References sit inside JSON strings: render them without quotes so the body still parses.
    return parts
      .map((part) => (typeof part === 'string' ? part : JSON.stringify(part).replace(/["\\]/g, '')))
      .join('');
  };

  it('charts lag, throughput, failures, poison, DLQ depths, iterator age and every alarm', () => {
    const { template } = defaultStack();

    const body = dashboardBody(template);
    for (const title of [
      'Relay lag',
      'Throughput: commits vs events published',
      'Stream iterator age',
      'Failures',
      'Poison and stuck events',
      'DLQ depth',
      'Consumers: duplicate deliveries skipped',
      'Alarms',
    ]) {
      expect(body).toContain(title);
    }
    for (const metric of [
      MetricName.RelayLag,
      COMMITS.name,
      MetricName.EventsPublished,
      MetricName.PublishFailures,
      MetricName.PoisonEvents,
      MetricName.ReconcilerRepublished,
      MetricName.ReconcilerStuckEvents,
      MetricName.ReconcilerParkedAfterRetries,
      MetricName.DuplicateDeliveriesSkipped,
      'IteratorAge',
      'ApproximateNumberOfMessagesVisible',
      '5xx',
    ]) {
      expect(body).toContain(`"${metric}"`);
    }
    expect(body).toContain(COMMITS.label);
    const alarmWidget = JSON.parse(body).widgets.find((w: { type: string }) => w.type === 'alarm');
    expect(alarmWidget.properties.alarms).toHaveLength(10);
  });

  it('is named after the prefix', () => {
    const { template } = defaultStack();

    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: `${PREFIX}-outbox` });
  });
});
