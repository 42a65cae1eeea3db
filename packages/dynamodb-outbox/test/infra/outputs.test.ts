import { fileURLToPath } from 'node:url';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import { OutboxConsumer, TIME_ORDERED_TABLE_LAYOUT, TransactionalOutbox } from 'dynamodb-outbox';
import { afterAll, describe, expect, it } from 'vitest';
import { outboxPrefixes } from '../../src/runtime/stack-outputs';
import { arnOf, refOf, removeTestApps, testApp } from '../support/infra';

const subscription = {
  name: 'shipment-audit',
  eventPattern: { source: ['shipments'] },
  retry: { maximumRetryAttempts: 3, maximumEventAgeSeconds: 3600 },
};

const outboxIn = (scope: Construct, id: string, eventBus: EventBus, source: string) =>
  new TransactionalOutbox(scope, id, {
    table: new TableV2(scope, `${id}Table`, { partitionKey: { name: 'pk', type: AttributeType.STRING } }),
    eventBus,
    source,
    retentionDays: 3,
  });

afterAll(removeTestApps);

describe('the stack outputs the CLI reads', () => {
  it("are the outbox's own, keyed by its id: table, layout, bus, source, retention, queue, bucket, archive", () => {
    // Prepare
    const stack = new Stack(testApp(), 'OutputsTest');
    const eventBus = new EventBus(stack, 'Bus');
    const archive = eventBus.archive('Archive', { eventPattern: { source: ['shipments'] } });
    // Nested one level down, as in a service construct: the keys must not carry the construct path.
    const outbox = new TransactionalOutbox(new Construct(stack, 'Service'), 'Outbox', {
      table: new TableV2(stack, 'Table', { partitionKey: { name: 'pk', type: AttributeType.STRING } }),
      eventBus,
      source: 'shipments',
      retentionDays: 3,
      archive,
    });

    // Act
    const template = Template.fromStack(stack);

    // Assess
    const outputs = template.findOutputs('*');
    expect(Object.fromEntries(Object.entries(outputs).map(([key, o]) => [key, o.Value]))).toEqual({
      OutboxTableName: refOf(outbox.table),
      OutboxLayout: JSON.stringify(TIME_ORDERED_TABLE_LAYOUT),
      OutboxEventBusName: refOf(eventBus),
      OutboxEventBusArn: arnOf(eventBus),
      OutboxArchiveArn: arnOf(archive),
      OutboxEventSource: 'shipments',
      OutboxRetentionDays: '3',
      OutboxPoisonQueueUrl: refOf(outbox.poisonQueue),
      OutboxFailureBucketName: refOf(outbox.failureBucket),
    });
    template.hasOutput('OutboxPoisonQueueUrl', {
      Description: Match.stringLikeRegexp('never be published'),
    });
    expect(outboxPrefixes(Object.fromEntries(Object.entries(outputs).map(([k, o]) => [k, o.Value])))).toEqual(
      ['Outbox'],
    );
  });

  it('keep two outboxes of one stack apart, each under its own id', () => {
    // Prepare
    const stack = new Stack(testApp(), 'TwoOutboxes');
    const eventBus = new EventBus(stack, 'Bus');
    outboxIn(stack, 'Shipments', eventBus, 'shipments');
    outboxIn(stack, 'billing-outbox', eventBus, 'billing');

    // Act
    const template = Template.fromStack(stack);

    // Assess
    template.hasOutput('ShipmentsEventSource', { Value: 'shipments' });
    template.hasOutput('BillingOutboxEventSource', { Value: 'billing' });
    template.hasOutput('BillingOutboxLayout', {
      Value: Match.stringLikeRegexp('"kind":"time-ordered-table"'),
    });
  });

  it('refuse two outboxes whose outputs would share keys, naming both', () => {
    const stack = new Stack(testApp(), 'SameId');
    const eventBus = new EventBus(stack, 'Bus');
    outboxIn(new Construct(stack, 'A'), 'Outbox', eventBus, 'a');
    expect(() => outboxIn(new Construct(stack, 'B'), 'Outbox', eventBus, 'b')).toThrow(
      "SameId/B/Outbox: the stack output OutboxTableName is already SameId/A/Outbox's",
    );
  });

  it("include a consumer's rule and dead-letter queue, named after its subscription", () => {
    // Prepare
    const stack = new Stack(testApp(), 'ConsumerOutputs');
    const eventBus = new EventBus(stack, 'Bus');
    const outbox = outboxIn(stack, 'Outbox', eventBus, 'shipments');

    // Act
    const consumer = new OutboxConsumer(stack, 'Audit', {
      outbox,
      subscription,
      entry: fileURLToPath(new URL('../fixtures/handler.ts', import.meta.url)),
    });

    // Assess
    const template = Template.fromStack(stack);
    template.hasOutput('ShipmentAuditRuleArn', { Value: arnOf(consumer.rule) });
    template.hasOutput('ShipmentAuditDeadLetterQueueUrl', {
      Value: refOf(consumer.deadLetterQueue),
      Description: Match.stringLikeRegexp('shipment-audit'),
    });
  });
});
