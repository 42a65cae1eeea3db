import { fileURLToPath } from 'node:url';
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Key } from 'aws-cdk-lib/aws-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxConsumer, type OutboxConsumerProps } from '../../src/cdk/consumer';
import { TransactionalOutbox } from '../../src/cdk/transactional-outbox';
import { TIME_ORDERED_TABLE_LAYOUT } from '../../src/runtime/layout';
import { consumerSettings, transactionalConsumerSettings } from '../../src/runtime/settings';
import { MAXIMUM_TARGET_RETRY, type Subscription } from '../../src/runtime/subscription';
import {
  arnOf,
  environmentOf,
  permissionsOf,
  refMarkerOf,
  removeTestApps,
  settingsOf,
  testApp,
  withBaseGrants,
} from '../support/infra';
import { applyAwsSolutionsChecks, formatFindings, synthFindings } from '../support/nag';

/** Any handler module will do: bundling is skipped, but the entry must exist. */
const ENTRY = fileURLToPath(new URL('../fixtures/handler.ts', import.meta.url));

const subscription: Subscription = {
  name: 'inventory',
  eventPattern: { source: ['orders'], 'detail-type': ['OrderPlaced'] },
  retry: MAXIMUM_TARGET_RETRY,
};

/** A consuming service: its state table, its own outbox on the shared bus, and its consumer. */
const build = (stack: Stack, props: Partial<OutboxConsumerProps> = {}) => {
  const eventBus = new EventBus(stack, 'Bus');
  const stock = new TableV2(stack, 'Stock', {
    partitionKey: { name: 'pk', type: AttributeType.STRING },
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
  });
  const outbox = new TransactionalOutbox(stack, 'InventoryOutbox', { table: stock, eventBus });
  const consumer = new OutboxConsumer(stack, 'Inventory', {
    outbox: { eventBus, redeliveryWindow: Duration.hours(24) },
    subscription,
    entry: ENTRY,
    transactional: { outbox, table: stock },
    ...props,
  });
  return { stack, stock, outbox, consumer };
};

afterAll(removeTestApps);

describe('OutboxConsumer with transactional', () => {
  let built: ReturnType<typeof build>;
  let template: Template;

  beforeAll(() => {
    built = build(new Stack(testApp(), 'TransactionalConsumer'));
    template = Template.fromStack(built.stack);
  }, 60_000);

  it("gives the function its outbox's writer settings and the inbox window, and no idempotency settings", () => {
    const { consumer, outbox } = built;
    expect(settingsOf(template, consumer.function, transactionalConsumerSettings.variable)).toEqual({
      inboxTtlSeconds: 54 * 3600,
      outbox: {
        tableName: refMarkerOf(outbox.table),
        layout: TIME_ORDERED_TABLE_LAYOUT,
        deliveryTracking: true,
        retentionDays: 7,
      },
    });
    expect(environmentOf(template, consumer.function)).not.toHaveProperty(consumerSettings.variable);
  });

  it('creates no idempotency table: the inbox lives in its outbox table', () => {
    expect(built.consumer.idempotencyTable).toBeUndefined();
    // The state table and the outbox's own table, nothing else.
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 2);
  });

  it('grants exactly what one TransactWriteItems over its state and its outbox needs', () => {
    const { consumer, stock, outbox } = built;
    const state = arnOf(stock);
    expect(permissionsOf(template, consumer.function.executionRole)).toEqual(
      withBaseGrants(consumer.function.logGroup, [
        { action: 'dynamodb:ConditionCheckItem', resource: state },
        { action: 'dynamodb:DeleteItem', resource: state },
        { action: 'dynamodb:GetItem', resource: state },
        { action: 'dynamodb:PutItem', resource: arnOf(outbox.table) },
        { action: 'dynamodb:PutItem', resource: state },
        { action: 'dynamodb:Query', resource: state },
        { action: 'dynamodb:UpdateItem', resource: state },
        { action: 'sqs:SendMessage', resource: arnOf(consumer.deadLetterQueue) },
      ]),
    );
  });

  it('refuses the props of the idempotency table it does not have, naming them', () => {
    expect(() => build(new Stack(testApp(), 'Retained'), { retainData: true })).toThrow(
      /OutboxConsumer: retainData applies to the idempotency table/,
    );
    const stack = new Stack(testApp(), 'WithEncryption');
    expect(() => build(stack, { encryptionKey: new Key(stack, 'Key') })).toThrow(
      /OutboxConsumer: encryptionKey applies to the idempotency table/,
    );
  });

  it('has no unacknowledged AwsSolutions finding', () => {
    // Prepare
    const app = testApp();
    applyAwsSolutionsChecks(app);
    build(new Stack(app, 'Nagged'));
    // Act + Assess
    expect(formatFindings(synthFindings(app))).toBe('');
  }, 120_000);
});
