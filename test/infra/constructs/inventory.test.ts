import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventorySubscription } from '../../../lambdas/inventory/subscription';
import { Inventory } from '../../../lib/constructs/inventory';
import { consumerSettings } from '../../../packages/dynamodb-outbox/src/runtime/settings';
import {
  arnOf,
  permissionsOf,
  refMarkerOf,
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

  it('passes its own table and the consumer settings to the function', () => {
    const { inventory, template } = built;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          INVENTORY_TABLE_NAME: refOf(inventory.table),
          POWERTOOLS_SERVICE_NAME: 'inventory',
          [consumerSettings.variable]: settingsLike({
            idempotencyTableName: refMarkerOf(inventory.consumer.idempotencyTable),
            idempotencyTtlSeconds: 54 * 3600,
          }),
        }),
      },
    });
  });

  it('grants the function exactly the actions it uses, on its own tables and queue', () => {
    const { inventory, template } = built;
    const { consumer } = inventory;
    const idempotency = arnOf(consumer.idempotencyTable);
    const reservations = arnOf(inventory.table);
    expect(permissionsOf(template, consumer.function.executionRole)).toEqual(
      withBaseGrants(consumer.function.logGroup, [
        { action: 'dynamodb:DeleteItem', resource: idempotency },
        { action: 'dynamodb:DeleteItem', resource: reservations },
        { action: 'dynamodb:GetItem', resource: idempotency },
        { action: 'dynamodb:GetItem', resource: reservations },
        { action: 'dynamodb:PutItem', resource: idempotency },
        { action: 'dynamodb:PutItem', resource: reservations },
        { action: 'dynamodb:UpdateItem', resource: idempotency },
        { action: 'sqs:SendMessage', resource: arnOf(consumer.deadLetterQueue) },
      ]),
    );
  });
});
