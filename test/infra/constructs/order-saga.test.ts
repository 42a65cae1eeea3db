import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { TransactionalOutbox } from 'dynamodb-outbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stockAnswersSubscription } from '../../../lambdas/orders/saga/subscription';
import { ordersOutboxLayout, placedOrdersIndex } from '../../../lambdas/orders/table';
import { OrderSaga } from '../../../lib/constructs/order-saga';
import { OrdersTable } from '../../../lib/constructs/orders-table';
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
  const stack = new Stack(testApp(), 'OrderSagaTest');
  const eventBus = new EventBus(stack, 'Bus');
  const { table } = new OrdersTable(stack, 'Orders');
  const outbox = new TransactionalOutbox(stack, 'Outbox', {
    table,
    layout: ordersOutboxLayout,
    eventBus,
    source: 'orders',
  });
  const saga = new OrderSaga(stack, 'Saga', {
    table,
    outbox,
    inventoryOutbox: { eventBus, redeliveryWindow: Duration.hours(24) },
    deadline: Duration.minutes(5),
  });
  return { table, outbox, saga, eventBus, template: Template.fromStack(stack) };
};

afterAll(removeTestApps);

describe('OrderSaga', () => {
  let built: ReturnType<typeof synth>;

  beforeAll(() => {
    built = synth();
  }, 60_000);

  it("subscribes the answers consumer to inventory's answers, with the pattern the offline bus routes with", () => {
    built.template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: refOf(built.eventBus),
      EventPattern: stockAnswersSubscription('inventory').eventPattern,
    });
  });

  it('makes the answers consumer transactional on the orders table, emitting through the orders outbox', () => {
    const { saga, table, template } = built;
    expect(saga.answers.idempotencyTable).toBeUndefined();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          TABLE_NAME: refOf(table),
          [transactionalConsumerSettings.variable]: settingsLike({
            outbox: Match.objectLike({ layout: Match.objectLike({ kind: 'same-table' }) }),
          }),
        }),
      },
    });
  });

  it('runs the deadline sweeper every minute with the deadline in seconds', () => {
    const { saga, template } = built;
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 0 },
        }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ORDER_DEADLINE_SECONDS: '300' }) },
    });
    expect(saga.deadlineSweeper.node.id).toBe('DeadlineSweeper');
  });

  it('grants the sweeper the placed-orders index, the order reads and updates, and outbox puts', () => {
    const { saga, table, template } = built;
    const tableArn = arnOf(table);
    expect(permissionsOf(template, saga.deadlineSweeper.executionRole)).toEqual(
      withBaseGrants(saga.deadlineSweeper.logGroup, [
        { action: 'dynamodb:GetItem', resource: tableArn },
        { action: 'dynamodb:PutItem', resource: tableArn },
        {
          action: 'dynamodb:Query',
          resource: { 'Fn::Join': ['', [tableArn, `/index/${placedOrdersIndex.indexName}`]] },
        },
        { action: 'dynamodb:UpdateItem', resource: tableArn },
      ]),
    );
  });

  it('adds the sparse placed-orders index to the orders table, keys only', () => {
    built.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      GlobalSecondaryIndexes: Match.arrayWith([
        Match.objectLike({
          IndexName: placedOrdersIndex.indexName,
          KeySchema: [
            { AttributeName: placedOrdersIndex.partitionKey, KeyType: 'HASH' },
            { AttributeName: placedOrdersIndex.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        }),
      ]),
    });
  });
});
