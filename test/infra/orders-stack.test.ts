import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { inventorySubscription } from '../../lambdas/inventory/subscription';
import { ordersOutboxLayout } from '../../lambdas/orders/table';
import { readStageConfig } from '../../lib/config';
import { OrdersStack } from '../../lib/orders-stack';
import { relayFilterPattern } from '../../packages/dynamodb-outbox/src/runtime/layout';
import {
  reconcilerSettings,
  relaySettings,
  writerSettings,
} from '../../packages/dynamodb-outbox/src/runtime/settings';
import {
  alarmNamesOf,
  arnOf,
  environmentOf,
  logicalIdOf,
  permissionsOf,
  refMarkerOf,
  refOf,
  removeTestApps,
  settingsLike,
  settingsOf,
  testApp,
} from '../../packages/dynamodb-outbox/test/support/infra';

afterAll(removeTestApps);

interface Synthesized {
  readonly stack: OrdersStack;
  readonly template: Template;
}

const synthesized = new Map<string, Synthesized>();

/** The orders stack for a CDK context, synthesized once per context. */
const stackFor = (context: Record<string, string>): Synthesized => {
  const cacheKey = JSON.stringify(context);
  const cached = synthesized.get(cacheKey);
  if (cached) return cached;
  const app = testApp({ context });
  const config = readStageConfig((key) => app.node.tryGetContext(key));
  const stack = new OrdersStack(app, 'Orders', { config });
  const built = { stack, template: Template.fromStack(stack) };
  synthesized.set(cacheKey, built);
  return built;
};

const dev = () => stackFor({ stage: 'dev', archiveRetentionDays: '45' });

/** The first synth of a process fingerprints the project for the function assets: slow on a busy machine. */
const SYNTH_TIMEOUT_MS = 60_000;

describe('OrdersStack outbox', () => {
  it(
    'relays the orders table itself (same-table layout): its stream, filtered to outbox INSERTs',
    () => {
      const { stack, template } = dev();
      expect(stack.outbox.outboxTable).toBeUndefined();
      expect(stack.outbox.layout).toEqual(ordersOutboxLayout);
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [logicalIdOf(stack.table), 'StreamArn'] },
        FunctionName: refOf(stack.outbox.relay.function),
        FilterCriteria: { Filters: [{ Pattern: JSON.stringify(relayFilterPattern(ordersOutboxLayout)) }] },
      });
      expectSettings(template, stack, relaySettings.variable, {
        tableName: refMarkerOf(stack.table),
        eventBusName: refMarkerOf(stack.eventBus),
        source: 'orders',
        layout: ordersOutboxLayout,
        deliveryTracking: true,
      });
    },
    SYNTH_TIMEOUT_MS,
  );

  it(
    'runs the reconciler with delivery tracking, on the relay poison queue, with the configured schedule',
    () => {
      const { stack, template } = stackFor({
        reconcilerThresholdMinutes: '30',
        reconcilerIntervalMinutes: '10',
      });
      const { reconciler } = stack.outbox;
      if (reconciler === undefined) throw new Error('expected a reconciler');
      expect(reconciler.threshold.toMinutes()).toBe(30);
      template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
      expect(settingsOf(template, reconciler.function, reconcilerSettings.variable)).toMatchObject({
        thresholdSeconds: 1800,
        poisonQueueUrl: refMarkerOf(stack.outbox.poisonQueue),
        tableName: refMarkerOf(stack.table),
      });
    },
    SYNTH_TIMEOUT_MS,
  );

  it(
    'has no reconciler without delivery tracking: nothing is ever pending',
    () => {
      const { stack, template } = stackFor({ deliveryTracking: 'false' });
      expect(stack.outbox.reconciler).toBeUndefined();
      expect(stack.inventory.outbox.reconciler).toBeUndefined();
      // The one schedule left is the saga's deadline sweeper.
      template.resourcePropertiesCountIs('AWS::Events::Rule', { ScheduleExpression: Match.anyValue() }, 1);
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(1 minute)',
        Targets: [Match.objectLike({ Arn: arnOf(stack.saga.deadlineSweeper) })],
      });
    },
    SYNTH_TIMEOUT_MS,
  );

  it(
    'archives every published event on the bus for the configured retention',
    () => {
      const { stack, template } = dev();
      template.hasResourceProperties('AWS::Events::Archive', {
        SourceArn: arnOf(stack.eventBus),
        EventPattern: { source: ['orders', 'inventory'] },
        RetentionDays: 45,
      });
    },
    SYNTH_TIMEOUT_MS,
  );

  it('subscribes the inventory consumer to the stack bus', () => {
    const { stack, template } = dev();
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: refOf(stack.eventBus),
      EventPattern: inventorySubscription('orders').eventPattern,
    });
  });

  it('sizes the idempotency window to the stream replay window, the reconciler, EventBridge and Lambda retries', () => {
    const { stack } = dev();
    // 24 h stream + 15 min threshold + 5 min interval, + 24 h EventBridge retries, + 6 h Lambda retries.
    expect(stack.outbox.redeliveryWindow.toSeconds()).toBe(24 * 3600 + 15 * 60 + 5 * 60);
    expect(stack.inventory.consumer.idempotencyTtl.toSeconds()).toBe(
      24 * 3600 + 15 * 60 + 5 * 60 + 24 * 3600 + 6 * 3600,
    );
  });

  it("alarms on every part through the monitoring of the stack, and of inventory's outbox", () => {
    const { stack, template } = dev();
    expect(stack.outbox.monitoring).toBe(stack.monitoring);
    // OutboxMonitoring watches one outbox: inventory's has its own (topic, dashboard, alarms).
    expect(stack.inventory.outbox.monitoring).not.toBe(stack.monitoring);
    template.resourceCountIs('AWS::SNS::Topic', 2);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 2);
    expect(alarmNamesOf(template)).toEqual(
      [
        'Api5xxRate',
        'DeadLetters-inventory-dlq',
        'DeadLetters-order-answers-dlq',
        'DeadLetters-relay-failures',
        'DeadLetters-relay-poison',
        'ReconcilerErrors',
        'ReconcilerParkedAfterRetries',
        'ReconcilerRepublished',
        'ReconcilerStuckEvents',
        'RelayErrors',
        'RelayIteratorAge',
        'RelayLagP99',
        'inventory-DeadLetters-relay-failures',
        'inventory-DeadLetters-relay-poison',
        'inventory-ReconcilerErrors',
        'inventory-ReconcilerParkedAfterRetries',
        'inventory-ReconcilerRepublished',
        'inventory-ReconcilerStuckEvents',
        'inventory-RelayErrors',
        'inventory-RelayIteratorAge',
        'inventory-RelayLagP99',
      ].map((name) => `${stack.stackName}-${name}`),
    );
  });

  it('outputs what the outbox CLI reads', () => {
    const { stack, template } = dev();
    const outputs = template.findOutputs('*');
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining([
        'OutboxTableName',
        'OutboxLayout',
        'OutboxEventBusName',
        'OutboxEventSource',
        'OutboxRetentionDays',
        'OutboxPoisonQueueUrl',
        'OutboxFailureBucketName',
        'InventoryDeadLetterQueueUrl',
        'OutboxEventBusArn',
        'OutboxArchiveArn',
        'InventoryRuleArn',
      ]),
    );
    expect(outputs.OutboxArchiveArn?.Value).toEqual(arnOf(stack.archive));
    expect(outputs.InventoryRuleArn?.Value).toEqual(arnOf(stack.inventory.consumer.rule));
    expect(outputs.OutboxTableName?.Value).toEqual(refOf(stack.table));
    expect(JSON.parse(outputs.OutboxLayout?.Value)).toEqual(ordersOutboxLayout);
    expect(outputs.InventoryDeadLetterQueueUrl?.Value).toEqual(
      refOf(stack.inventory.consumer.deadLetterQueue),
    );
  });
});

/** The settings of the one function of the stack that reads `variable`, matched with `pattern`. */
const expectSettings = (
  template: Template,
  stack: OrdersStack,
  variable: string,
  pattern: Record<string, unknown>,
): void => {
  const readers = [stack.outbox.relay.function, stack.outbox.reconciler?.function, stack.api.function].filter(
    (fn) => fn !== undefined && variable in environmentOf(template, fn),
  );
  expect(readers).toHaveLength(1);
  template.hasResourceProperties('AWS::Lambda::Function', {
    Environment: { Variables: Match.objectLike({ [variable]: settingsLike(pattern) }) },
  });
};

describe('OrdersStack functions', () => {
  type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };
  const resourcesOf = (template: Template) => template.toJSON().Resources as Record<string, Resource>;

  it('each run on a role of their own that writes only to their own log group, without managed policies', () => {
    const { template } = dev();
    const functions = Object.values(resourcesOf(template)).filter((r) => r.Type === 'AWS::Lambda::Function');
    const roleIds = functions.map(
      (fn) => (fn.Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0],
    );
    expect(roleIds.length).toBeGreaterThanOrEqual(4);
    expect(new Set(roleIds).size).toBe(roleIds.length);
    const { stack } = dev();
    for (const fn of [
      stack.outbox.relay.function,
      stack.outbox.reconciler?.function,
      stack.api.function,
      stack.inventory.consumer.function,
    ]) {
      if (fn === undefined) throw new Error('expected every function');
      const logGrants = permissionsOf(template, fn.executionRole).filter((g) => g.action.startsWith('logs:'));
      expect(logGrants).toEqual([
        { action: 'logs:CreateLogStream', resource: arnOf(fn.logGroup) },
        { action: 'logs:PutLogEvents', resource: arnOf(fn.logGroup) },
      ]);
    }
    const roles = Object.values(resourcesOf(template)).filter((r) => r.Type === 'AWS::IAM::Role');
    expect(roles.filter((r) => r.Properties.ManagedPolicyArns !== undefined)).toEqual([]);
  });

  it(
    'keep the logs of every function and the API access logs in prod and remove them with a dev stack',
    () => {
      const deletionPolicies = ({ stack, template }: Synthesized) => {
        const all = resourcesOf(template);
        const named = [
          stack.outbox.relay.function.logGroup,
          stack.api.function.logGroup,
          stack.api.accessLogs,
          stack.inventory.consumer.function.logGroup,
          stack.inventory.stockLevel.logGroup,
          stack.inventory.outbox.relay.function.logGroup,
          stack.saga.answers.function.logGroup,
          stack.saga.deadlineSweeper.logGroup,
        ];
        for (const outbox of [stack.outbox, stack.inventory.outbox])
          if (outbox.reconciler) named.push(outbox.reconciler.function.logGroup);
        const logGroups = Object.values(all).filter((r) => r.Type === 'AWS::Logs::LogGroup');
        // Every log group of the stack is one of the named ones: a new one must decide its policy too.
        expect(logGroups).toHaveLength(named.length);
        return named.map((group) => all[logicalIdOf(group)]?.DeletionPolicy);
      };
      expect(dev().stack.outbox.reconciler).toBeDefined();
      expect(deletionPolicies(dev())).toEqual(Array(10).fill('Delete'));
      expect(deletionPolicies(stackFor({ stage: 'prod' }))).toEqual(Array(10).fill('Retain'));
    },
    SYNTH_TIMEOUT_MS,
  );
});

describe('OrdersStack: the API per stage', () => {
  const routeAuthorization = (template: Template) =>
    Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map(
      (r) => r.Properties.AuthorizationType,
    );

  it.each([
    ['dev', 50, 100],
    ['prod', 500, 1000],
  ])(
    '%s: IAM on every route, throttled at %d rps with a burst of %d',
    (stage, rate, burst) => {
      const { template } = stackFor({ stage });
      expect(routeAuthorization(template)).toEqual(['AWS_IAM', 'AWS_IAM', 'AWS_IAM']);
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        DefaultRouteSettings: { ThrottlingRateLimit: rate, ThrottlingBurstLimit: burst },
        AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
      });
    },
    SYNTH_TIMEOUT_MS,
  );

  it(
    'uses a JWT authorizer when the context asks for one, and the configured throttling and outbox settings',
    () => {
      // Act
      const { stack, template } = stackFor({
        stage: 'prod',
        apiAuth: 'jwt',
        apiJwtIssuer: 'https://issuer.example.com',
        apiJwtAudience: 'orders-client,orders-admin',
        apiRateLimit: '20',
        apiBurstLimit: '40',
        deliveryTracking: 'false',
        outboxRetentionDays: '3',
      });

      // Assess
      expect(routeAuthorization(template)).toEqual(['JWT', 'JWT', 'JWT']);
      template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
        JwtConfiguration: {
          Issuer: 'https://issuer.example.com',
          Audience: ['orders-client', 'orders-admin'],
        },
      });
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
      });
      expect(settingsOf(template, stack.api.function, writerSettings.variable)).toMatchObject({
        deliveryTracking: false,
        retentionDays: 3,
      });
      expect(settingsOf(template, stack.outbox.relay.function, relaySettings.variable)).toMatchObject({
        deliveryTracking: false,
        retentionDays: 3,
      });
    },
    SYNTH_TIMEOUT_MS,
  );

  it('deploys the table the write path needs and gives the API function only its three actions on it', () => {
    // Act
    const { stack, template } = dev();

    // Assess
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
      TimeToLiveSpecification: { AttributeName: ordersOutboxLayout.timeToLiveAttribute, Enabled: true },
    });
    const dynamo = permissionsOf(template, stack.api.function.executionRole).filter((g) =>
      g.action.startsWith('dynamodb:'),
    );
    expect([...new Set(dynamo.map((g) => g.action))]).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    expect(new Set(dynamo.map((g) => JSON.stringify(g.resource)))).toEqual(
      new Set([JSON.stringify(arnOf(stack.table))]),
    );
    template.hasOutput('ApiUrl', { Value: Match.objectLike({ 'Fn::Join': Match.anyValue() }) });
  });
});
