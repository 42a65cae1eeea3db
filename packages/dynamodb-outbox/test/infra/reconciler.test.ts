import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outboxTableProps } from '../../src/cdk/outbox-table';
import { OutboxReconciler, type OutboxReconcilerProps } from '../../src/cdk/reconciler';
import { sameTableLayout } from '../../src/runtime/layout';
import { reconcilerSettings } from '../../src/runtime/settings';
import {
  arnOf,
  permissionsOf,
  refMarkerOf,
  refOf,
  removeTestApps,
  settingsLike,
  testApp,
  withBaseGrants,
} from '../support/infra';

const layout = sameTableLayout({ partitionKey: 'PK', sortKey: 'SK' });

const synth = (props: Partial<OutboxReconcilerProps> = {}) => {
  const stack = new Stack(testApp(), 'ReconcilerTest');
  const table = new TableV2(stack, 'Table', {
    partitionKey: { name: 'PK', type: AttributeType.STRING },
    sortKey: { name: 'SK', type: AttributeType.STRING },
    ...outboxTableProps(layout),
  });
  const eventBus = new EventBus(stack, 'Bus');
  const poisonQueue = new Queue(stack, 'Poison');
  const reconciler = new OutboxReconciler(stack, 'Reconciler', {
    table,
    layout,
    eventBus,
    poisonQueue,
    source: 'orders',
    ...props,
  });
  return { template: Template.fromStack(stack), reconciler, table, eventBus, poisonQueue };
};

afterAll(removeTestApps);

/** The files of the asset a function is deployed from, as synth staged it. */
const stagedFiles = (fn: IConstruct): string[] => {
  const { s3Key } = Stack.of(fn).resolve((fn.node.defaultChild as CfnFunction).code) as { s3Key: string };
  return readdirSync(join((fn.node.root as App).outdir, `asset.${s3Key.replace(/\.zip$/, '')}`)).sort();
};

describe('OutboxReconciler', () => {
  let built: ReturnType<typeof synth>;

  beforeAll(() => {
    built = synth();
  }, 60_000);

  it('deploys the reconciler prebuilt by the package build (assets/reconciler), not a bundle of its TypeScript', () => {
    const { template, reconciler } = built;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Code: { S3Bucket: Match.anyValue(), S3Key: Match.stringLikeRegexp('^[0-9a-f]{64}\\.zip$') },
    });
    expect(stagedFiles(reconciler.function)).toEqual([
      'index.mjs',
      'index.mjs.map',
      'tracing.mjs',
      'tracing.mjs.map',
    ]);
  });

  it('runs the function every 5 minutes, without retrying a missed run', () => {
    const { template, reconciler } = built;
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({ Arn: arnOf(reconciler.function), RetryPolicy: { MaximumRetryAttempts: 0 } }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: refOf(reconciler.function),
      MaximumRetryAttempts: 0,
    });
  });

  it('passes threshold, batch bound, retention, layout and the relay resources in its settings', () => {
    const { template, table, eventBus, poisonQueue } = built;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 120,
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'outbox-reconciler',
          [reconcilerSettings.variable]: settingsLike({
            tableName: refMarkerOf(table),
            layout,
            eventBusName: refMarkerOf(eventBus),
            source: 'orders',
            poisonQueueUrl: refMarkerOf(poisonQueue),
            putEventsMaxBytes: 1_048_576,
            retentionDays: 7,
            thresholdSeconds: 900,
            maxItemsPerRun: 5000,
          }),
        }),
      },
    });
  });

  it('may only list the table by its time index, read receipts and its watermark, write receipts and keep parked items, keep its stuck events, put events on its bus and park poison', () => {
    const { template, reconciler, table, eventBus, poisonQueue } = built;
    expect(permissionsOf(template, reconciler.function.executionRole)).toEqual(
      withBaseGrants(reconciler.function.logGroup, [
        { action: 'dynamodb:DeleteItem', resource: arnOf(table) },
        { action: 'dynamodb:GetItem', resource: arnOf(table) },
        { action: 'dynamodb:PutItem', resource: arnOf(table) },
        { action: 'dynamodb:Query', resource: arnOf(table) },
        {
          action: 'dynamodb:Query',
          resource: { 'Fn::Join': ['', [arnOf(table), `/index/${layout.timeIndex.indexName}`]] },
        },
        { action: 'dynamodb:UpdateItem', resource: arnOf(table) },
        { action: 'events:PutEvents', resource: arnOf(eventBus) },
        { action: 'sqs:SendMessage', resource: arnOf(poisonQueue) },
      ]),
    );
  });

  it('takes threshold and interval as props', () => {
    const { template, reconciler } = synth({ threshold: Duration.hours(1), interval: Duration.minutes(10) });
    expect(reconciler.threshold.toMinutes()).toBe(60);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [reconcilerSettings.variable]: settingsLike({ thresholdSeconds: 3600 }),
        }),
      },
    });
  });

  it('retains its log group unless told otherwise', () => {
    const logGroupPolicy = (template: Template) =>
      Object.values(template.findResources('AWS::Logs::LogGroup')).map((g) => g.DeletionPolicy);
    expect(logGroupPolicy(built.template)).toEqual(['Retain']);
    const destroyed = synth({ functionDefaults: { logRemovalPolicy: RemovalPolicy.DESTROY } });
    expect(logGroupPolicy(destroyed.template)).toEqual(['Delete']);
  });

  it('refuses a timeout that would let runs overlap, and a threshold its settings reject', () => {
    expect(() => synth({ interval: Duration.minutes(2), timeout: Duration.minutes(3) })).toThrow(/overlap/);
    expect(() => synth({ threshold: Duration.seconds(30) })).toThrow(/OutboxReconciler: .*thresholdSeconds/);
  });
});
