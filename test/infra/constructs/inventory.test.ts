import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventorySubscription } from '../../../lambdas/inventory/subscription';
import { Inventory } from '../../../lib/constructs/inventory';
import { transactionalConsumerSettings } from '../../../packages/dynamodb-outbox/src/runtime/settings';
import {
  arnOf,
  permissionsOf,
  refOf,
  removeTestApps,
  settingsLike,
  testApp,
  withBaseGrants,
} from '../../../packages/dynamodb-outbox/test/support/infra';

const synth = () => {
  const stack = new Stack(testApp(), 'InventoryTest');
  const eventBus = new EventBus(stack, 'Bus');
  const inventory = new Inventory(stack, 'Inventory', {
    outbox: { eventBus, redeliveryWindow: Duration.hours(24) },
    eventSource: 'orders',
  });
  return { eventBus, inventory, template: Template.fromStack(stack) };
};

afterAll(removeTestApps);

describe('Inventory', () => {
  let built: ReturnType<typeof synth>;

  beforeAll(() => {
    built = synth();
  }, 60_000);

  it('subscribes to the orders events with exactly the pattern the offline bus routes with', () => {
    built.template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: refOf(built.eventBus),
      EventPattern: inventorySubscription('orders').eventPattern,
    });
  });

  it('publishes its answers through its own outbox on the same bus, with source inventory', () => {
    const { inventory, eventBus } = built;
    expect(inventory.outbox.source).toBe('inventory');
    expect(inventory.outbox.eventBus).toBe(eventBus);
    expect(inventory.outbox.outboxTable).toBeDefined();
    expect(inventory.outbox.layout.kind).toBe('time-ordered-table');
    // A transactional consumer keeps its inbox in its outbox's table: no idempotency table.
    expect(inventory.consumer.idempotencyTable).toBeUndefined();
  });

  it('passes its table and the transactional consumer settings (its own outbox) to the consumer', () => {
    const { inventory, template } = built;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          INVENTORY_TABLE_NAME: refOf(inventory.table),
          POWERTOOLS_SERVICE_NAME: 'inventory',
          [transactionalConsumerSettings.variable]: settingsLike({
            inboxTtlSeconds: 54 * 3600,
            outbox: Match.objectLike({ layout: Match.objectLike({ kind: 'time-ordered-table' }) }),
          }),
        }),
      },
    });
  });

  it('grants the consumer exactly the actions it uses, on its own tables and queue', () => {
    const { inventory, template } = built;
    const { consumer } = inventory;
    const table = arnOf(inventory.table);
    const outbox = arnOf(inventory.outbox.table);
    expect(permissionsOf(template, consumer.function.executionRole)).toEqual(
      withBaseGrants(consumer.function.logGroup, [
        { action: 'dynamodb:BatchGetItem', resource: table },
        { action: 'dynamodb:ConditionCheckItem', resource: table },
        { action: 'dynamodb:DeleteItem', resource: table },
        { action: 'dynamodb:GetItem', resource: table },
        { action: 'dynamodb:PutItem', resource: outbox },
        { action: 'dynamodb:PutItem', resource: table },
        { action: 'dynamodb:Query', resource: table },
        { action: 'dynamodb:UpdateItem', resource: table },
        { action: 'sqs:SendMessage', resource: arnOf(consumer.deadLetterQueue) },
      ]),
    );
  });

  it('lets the stock function read and set stock records, nothing else', () => {
    const { inventory, template } = built;
    const table = arnOf(inventory.table);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ INVENTORY_TABLE_NAME: refOf(inventory.table) }) },
      Description: Match.stringLikeRegexp('stock level'),
    });
    expect(permissionsOf(template, inventory.stockLevel.executionRole)).toEqual(
      withBaseGrants(inventory.stockLevel.logGroup, [
        { action: 'dynamodb:BatchGetItem', resource: table },
        { action: 'dynamodb:PutItem', resource: table },
      ]),
    );
  });
});
