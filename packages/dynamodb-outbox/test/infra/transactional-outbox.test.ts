import { fileURLToPath } from 'node:url';
import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, StreamViewType, type TablePropsV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  OutboxMonitoring,
  outboxTableProps,
  PowertoolsFunction,
  TransactionalOutbox,
  type TransactionalOutboxProps,
} from '../../src/cdk';
import { relayFilterPattern, sameTableLayout, TIME_ORDERED_TABLE_LAYOUT } from '../../src/runtime/layout';
import { relaySettings, writerSettings } from '../../src/runtime/settings';
import {
  alarmNamesOf,
  arnOf,
  failureBucketGrants,
  logicalIdOf,
  permissionsOf,
  refMarkerOf,
  refOf,
  removeTestApps,
  settingsLike,
  settingsOf,
  testApp,
  withBaseGrants,
} from '../support/infra';
import { applyAwsSolutionsChecks, formatFindings, synthFindings } from '../support/nag';

/** Any handler module: bundling is skipped, but the entry must exist. */
const ENTRY = fileURLToPath(new URL('../fixtures/handler.ts', import.meta.url));

/** A service's own table, keyed `pk`/`sk`; point-in-time recovery is the service's choice (cdk-nag asks for it). */
const serviceTableProps = (extra: Partial<TablePropsV2> = {}): TablePropsV2 => ({
  partitionKey: { name: 'pk', type: AttributeType.STRING },
  sortKey: { name: 'sk', type: AttributeType.STRING },
  pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
  ...extra,
});

const sameTable = sameTableLayout({ partitionKey: 'pk', sortKey: 'sk' });

interface Built {
  readonly stack: Stack;
  readonly table: TableV2;
  readonly eventBus: EventBus;
  readonly outbox: TransactionalOutbox;
  readonly writer: PowertoolsFunction;
}

/** A service stack: its table, a bus, the outbox and one function that writes through it. */
const build = (
  stack: Stack,
  props: Partial<TransactionalOutboxProps> = {},
  tableProps: Partial<TablePropsV2> = {},
): Built => {
  const table = new TableV2(stack, 'Table', serviceTableProps(tableProps));
  const eventBus = new EventBus(stack, 'Bus');
  const outbox = new TransactionalOutbox(stack, 'Outbox', { table, eventBus, ...props });
  const writer = new PowertoolsFunction(stack, 'Writer', { entry: ENTRY, serviceName: 'writer' });
  outbox.grantWrite(writer);
  return { stack, table, eventBus, outbox, writer };
};

const stackIn = (name: string) => new Stack(testApp(), name);

const streamArnOf = (table: TableV2) => ({ 'Fn::GetAtt': [logicalIdOf(table), 'StreamArn'] });

afterAll(removeTestApps);

describe('TransactionalOutbox with its own outbox table (the default layout)', () => {
  let built: Built;
  let template: Template;

  beforeAll(() => {
    built = build(stackIn('Service'));
    template = Template.fromStack(built.stack);
  }, 60_000);

  const outboxTable = () => {
    const table = built.outbox.outboxTable?.table;
    if (!table) throw new Error('expected a dedicated outbox table');
    return table;
  };

  it('creates the dedicated, time-ordered outbox table (stream of new images, TTL, no index, PITR) and leaves the service table alone', () => {
    expect(built.outbox.layout).toEqual(TIME_ORDERED_TABLE_LAYOUT);
    expect(built.outbox.table).toBe(outboxTable());
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 2);
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: TIME_ORDERED_TABLE_LAYOUT.partitionKey, KeyType: 'HASH' },
        { AttributeName: TIME_ORDERED_TABLE_LAYOUT.sortKey, KeyType: 'RANGE' },
      ],
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
      TimeToLiveSpecification: {
        AttributeName: TIME_ORDERED_TABLE_LAYOUT.timeToLiveAttribute,
        Enabled: true,
      },
      GlobalSecondaryIndexes: Match.absent(),
      Replicas: [
        Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
      ],
    });
    const service = template.toJSON().Resources[logicalIdOf(built.table)];
    expect(service?.Properties.StreamSpecification).toBeUndefined();
  });

  it("maps the outbox table's stream, and only it, to the relay through the layout's filter", () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: streamArnOf(outboxTable()),
      FunctionName: refOf(built.outbox.relay.function),
      StartingPosition: 'TRIM_HORIZON',
      FilterCriteria: {
        Filters: [{ Pattern: JSON.stringify(relayFilterPattern(TIME_ORDERED_TABLE_LAYOUT)) }],
      },
    });
  });

  it('publishes with the stack name as source by default, from the outbox table, with tracking', () => {
    expect(settingsOf(template, built.outbox.relay.function, relaySettings.variable)).toEqual({
      eventBusName: refMarkerOf(built.eventBus),
      source: built.stack.stackName,
      poisonQueueUrl: refMarkerOf(built.outbox.poisonQueue),
      putEventsMaxBytes: 1_048_576,
      tableName: refMarkerOf(outboxTable()),
      layout: TIME_ORDERED_TABLE_LAYOUT,
      deliveryTracking: true,
      retentionDays: 7,
    });
  });

  it('grantWrite gives exactly dynamodb:PutItem on the outbox table, and the writer settings', () => {
    const { writer } = built;
    expect(permissionsOf(template, writer.executionRole)).toEqual(
      withBaseGrants(writer.logGroup, [{ action: 'dynamodb:PutItem', resource: arnOf(outboxTable()) }]),
    );
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'writer',
          [writerSettings.variable]: settingsLike({
            tableName: refMarkerOf(outboxTable()),
            layout: TIME_ORDERED_TABLE_LAYOUT,
            deliveryTracking: true,
            retentionDays: 7,
          }),
        }),
      },
    });
  });

  it('gives the relay and the reconciler least privilege on the outbox table, and nothing on the service table', () => {
    const { outbox } = built;
    const reconciler = outbox.reconciler;
    if (!reconciler) throw new Error('expected a reconciler');
    const table = outboxTable();
    expect(permissionsOf(template, outbox.relay.function.executionRole)).toEqual(
      withBaseGrants(outbox.relay.function.logGroup, [
        { action: 'dynamodb:DescribeStream', resource: streamArnOf(table) },
        { action: 'dynamodb:GetRecords', resource: streamArnOf(table) },
        { action: 'dynamodb:GetShardIterator', resource: streamArnOf(table) },
        { action: 'dynamodb:ListStreams', resource: streamArnOf(table) },
        { action: 'dynamodb:PutItem', resource: arnOf(table) },
        { action: 'dynamodb:Query', resource: arnOf(table) },
        { action: 'dynamodb:UpdateItem', resource: arnOf(table) },
        { action: 'events:PutEvents', resource: arnOf(built.eventBus) },
        ...failureBucketGrants(outbox.failureBucket),
        { action: 'sqs:SendMessage', resource: arnOf(outbox.poisonQueue) },
      ]),
    );
    expect(permissionsOf(template, reconciler.function.executionRole)).toEqual(
      withBaseGrants(reconciler.function.logGroup, [
        { action: 'dynamodb:DeleteItem', resource: arnOf(table) },
        { action: 'dynamodb:GetItem', resource: arnOf(table) },
        { action: 'dynamodb:PutItem', resource: arnOf(table) },
        { action: 'dynamodb:Query', resource: arnOf(table) },
        { action: 'dynamodb:UpdateItem', resource: arnOf(table) },
        { action: 'events:PutEvents', resource: arnOf(built.eventBus) },
        { action: 'sqs:SendMessage', resource: arnOf(outbox.poisonQueue) },
      ]),
    );
  });

  it('alarms on the relay, the reconciler, the poison queue and the failure bucket, notifying its topic', () => {
    const names = ['RelayIteratorAge', 'RelayErrors', 'RelayLagP99', 'DeadLetters-relay-poison'];
    names.push('DeadLetters-relay-failures', 'ReconcilerRepublished', 'ReconcilerErrors');
    names.push('ReconcilerStuckEvents', 'ReconcilerParkedAfterRetries');
    expect(alarmNamesOf(template)).toEqual(names.map((name) => `${built.stack.stackName}-${name}`).sort());
    const topic = refOf(built.outbox.monitoring.topic);
    template.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [topic], OKActions: [topic] });
    // Records arriving in the failure bucket, counted by the mapping itself: any one alarms.
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: `${built.stack.stackName}-DeadLetters-relay-failures`,
      Namespace: 'AWS/Lambda',
      MetricName: 'OnFailureDestinationDeliveredEventCount',
      Dimensions: [{ Name: 'EventSourceMappingUUID', Value: refOf(built.outbox.relay.eventSourceMapping) }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('derives the redelivery window from the stream retention and the reconciler', () => {
    expect(built.outbox.redeliveryWindow.toMinutes()).toBe(24 * 60 + 15 + 5);
  });
});

describe('TransactionalOutbox beside the aggregates (same-table layout)', () => {
  let built: Built;
  let template: Template;

  beforeAll(() => {
    built = build(stackIn('SameTable'), { layout: sameTable }, outboxTableProps(sameTable));
    template = Template.fromStack(built.stack);
  }, 60_000);

  it("relays the service table's own stream, passing only outbox INSERTs", () => {
    expect(built.outbox.outboxTable).toBeUndefined();
    expect(built.outbox.table).toBe(built.table);
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: streamArnOf(built.table),
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify(relayFilterPattern(sameTable)) }] },
    });
  });

  it('grantWrite gives exactly dynamodb:PutItem on the service table, with the same-table layout', () => {
    const { writer } = built;
    expect(permissionsOf(template, writer.executionRole)).toEqual(
      withBaseGrants(writer.logGroup, [{ action: 'dynamodb:PutItem', resource: arnOf(built.table) }]),
    );
    expect(settingsOf(template, writer, writerSettings.variable)).toMatchObject({
      tableName: refMarkerOf(built.table),
      layout: sameTable,
    });
  });

  it('tracks with receipts: the relay writes and reads receipts, the reconciler lists the table by its time index and keeps its stuck events', () => {
    const { outbox, table } = built;
    const reconciler = outbox.reconciler;
    if (!reconciler) throw new Error('expected a reconciler');
    // Its item actions: everything on DynamoDB but the stream reads.
    const onTable = (fn: { readonly executionRole: IRole }) =>
      permissionsOf(template, fn.executionRole).filter(
        (p) =>
          p.action.startsWith('dynamodb:') &&
          JSON.stringify(p.resource) !== JSON.stringify(streamArnOf(table)),
      );
    expect(onTable(outbox.relay.function)).toEqual([
      { action: 'dynamodb:PutItem', resource: arnOf(table) },
      { action: 'dynamodb:Query', resource: arnOf(table) },
      { action: 'dynamodb:UpdateItem', resource: arnOf(table) },
    ]);
    // The time index, and its stuck events: Query, GetItem, PutItem and DeleteItem on the table.
    expect(onTable(reconciler.function)).toEqual([
      { action: 'dynamodb:DeleteItem', resource: arnOf(table) },
      { action: 'dynamodb:GetItem', resource: arnOf(table) },
      { action: 'dynamodb:PutItem', resource: arnOf(table) },
      { action: 'dynamodb:Query', resource: arnOf(table) },
      {
        action: 'dynamodb:Query',
        resource: { 'Fn::Join': ['', [arnOf(table), `/index/${sameTable.timeIndex.indexName}`]] },
      },
      { action: 'dynamodb:UpdateItem', resource: arnOf(table) },
    ]);
  });

  it('outboxTableProps declares the sparse time index, by write minute and write time, projecting whole items', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: sameTable.timeIndex.indexName,
          KeySchema: [
            { AttributeName: sameTable.timeIndex.partitionKey, KeyType: 'HASH' },
            { AttributeName: sameTable.timeIndex.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        }),
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: sameTable.timeIndex.partitionKey, AttributeType: 'S' },
        { AttributeName: sameTable.timeIndex.sortKey, AttributeType: 'S' },
      ]),
      TimeToLiveSpecification: { AttributeName: sameTable.timeToLiveAttribute, Enabled: true },
    });
  });

  it('needs no time index without delivery tracking, and then has no reconciler', () => {
    const off = build(
      stackIn('Untracked'),
      { layout: sameTable, deliveryTracking: false },
      outboxTableProps(sameTable, { deliveryTracking: false }),
    );
    expect(off.outbox.reconciler).toBeUndefined();
    expect(off.outbox.redeliveryWindow.toHours()).toBe(24);
    const untracked = Template.fromStack(off.stack);
    untracked.resourcePropertiesCountIs('AWS::Events::Rule', { ScheduleExpression: Match.anyValue() }, 0);
    expect(alarmNamesOf(untracked).some((name) => name.includes('Reconciler'))).toBe(false);
  });
});

describe('TransactionalOutbox under cdk-nag', () => {
  it('has no unacknowledged AwsSolutions finding, dedicated or same-table, with the service monitoring', () => {
    // Prepare
    const app = testApp();
    applyAwsSolutionsChecks(app);
    build(new Stack(app, 'Dedicated'));
    build(new Stack(app, 'Same'), { layout: sameTable }, outboxTableProps(sameTable));
    const shared = new Stack(app, 'Shared');
    build(shared, { monitoring: new OutboxMonitoring(shared, 'Monitoring') });

    // Act
    const findings = synthFindings(app);

    // Assess
    expect(formatFindings(findings)).toBe('');
  }, 120_000);
});

describe('TransactionalOutbox rejects conflicting props, naming the prop', () => {
  const attempt =
    (props: Partial<TransactionalOutboxProps>, tableProps: Partial<TablePropsV2> = {}) =>
    () =>
      build(stackIn('Rejected'), props, tableProps);

  it('a reconciler schedule without delivery tracking', () => {
    expect(attempt({ deliveryTracking: false, reconciler: { interval: Duration.minutes(10) } })).toThrow(
      /TransactionalOutbox: reconciler applies only with deliveryTracking: true/,
    );
  });

  it('retainData with a same-table layout', () => {
    expect(attempt({ layout: sameTable, retainData: true }, outboxTableProps(sameTable))).toThrow(
      /TransactionalOutbox: retainData applies only to the dedicated outbox table/,
    );
  });

  it("a same-table layout whose keys are not the table's", () => {
    const upper = sameTableLayout({ partitionKey: 'PK', sortKey: 'SK' });
    expect(attempt({ layout: upper }, outboxTableProps(upper))).toThrow(
      "TransactionalOutbox: the layout's keys (PK, SK) must be the table's (pk, sk); pass them to sameTableLayout",
    );
  });

  it('a same-table table without the TTL attribute, the time index or a stream', () => {
    const { globalSecondaryIndexes, timeToLiveAttribute, ...streamOnly } = outboxTableProps(sameTable);
    expect(globalSecondaryIndexes).toHaveLength(1);
    expect(attempt({ layout: sameTable }, { ...streamOnly, globalSecondaryIndexes })).toThrow(
      /TransactionalOutbox: the table's TTL attribute must be the layout's expiresAt; spread outboxTableProps/,
    );
    expect(attempt({ layout: sameTable }, { ...streamOnly, timeToLiveAttribute })).toThrow(
      /TransactionalOutbox: delivery tracking needs the time index outbox-by-time on the table/,
    );
    expect(attempt({ layout: sameTable }, { timeToLiveAttribute, globalSecondaryIndexes })).toThrow(
      /OutboxRelay: the table has no stream/,
    );
    expect(
      attempt(
        { layout: sameTable },
        { ...outboxTableProps(sameTable), dynamoStream: StreamViewType.KEYS_ONLY },
      ),
    ).toThrow(/OutboxRelay: the relay needs new images/);
  });

  it('both monitoring and monitoringProps, and settings out of bounds', () => {
    const stack = stackIn('Monitoring');
    const table = new TableV2(stack, 'Table', serviceTableProps());
    const eventBus = new EventBus(stack, 'Bus');
    expect(
      () =>
        new TransactionalOutbox(stack, 'Outbox', {
          table,
          eventBus,
          monitoring: new OutboxMonitoring(stack, 'Monitoring'),
          monitoringProps: { namePrefix: 'x' },
        }),
    ).toThrow(/TransactionalOutbox: give monitoring or monitoringProps, not both/);
    expect(attempt({ source: 'aws.shipments' })).toThrow(/source must not start with "aws\."/);
    expect(attempt({ retentionDays: 0 })).toThrow(/retentionDays must be from 1 to 3650/);
  });
});
