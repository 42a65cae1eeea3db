import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Key } from 'aws-cdk-lib/aws-kms';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { afterAll, describe, expect, it } from 'vitest';
import { ordersOutboxLayout } from '../../../lambdas/orders/table';
import { OrdersApi, type OrdersApiProps } from '../../../lib/constructs/orders-api';
import { OrdersTable } from '../../../lib/constructs/orders-table';
import { TransactionalOutbox } from '../../../packages/dynamodb-outbox/src/cdk/transactional-outbox';
import { writerSettings } from '../../../packages/dynamodb-outbox/src/runtime/settings';
import {
  arnOf,
  logicalIdOf,
  permissionsOf,
  refMarkerOf,
  refOf,
  removeTestApps,
  settingsLike,
  testApp,
  withBaseGrants,
} from '../../../packages/dynamodb-outbox/test/support/infra';

afterAll(removeTestApps);

const synth = (
  props: Partial<Omit<OrdersApiProps, 'table' | 'outbox'>> = {},
  options: { encryptionKey?: boolean; deliveryTracking?: boolean } = {},
) => {
  // A customer managed key on TableV2 needs a concrete region.
  const env = options.encryptionKey ? { region: 'eu-west-1', account: '123456789012' } : undefined;
  const stack = new Stack(testApp(), 'OrdersApiTest', env ? { env } : {});
  const encryptionKey = options.encryptionKey ? new Key(stack, 'Key') : undefined;
  const deliveryTracking = options.deliveryTracking ?? true;
  const { table } = new OrdersTable(stack, 'Orders', {
    deliveryTracking,
    ...(encryptionKey ? { encryptionKey } : {}),
  });
  const outbox = new TransactionalOutbox(stack, 'Outbox', {
    table,
    layout: ordersOutboxLayout,
    eventBus: new EventBus(stack, 'Bus'),
    source: 'orders',
    deliveryTracking,
    ...(encryptionKey ? { encryptionKey } : {}),
  });
  const api = new OrdersApi(stack, 'Api', { table, outbox, ...props });
  return { stack, api, table, template: Template.fromStack(stack) };
};

/** Synthesizing is the slow part: tests that only read the default template share one. */
let defaultSynth: ReturnType<typeof synth> | undefined;
const synthDefault = () => {
  defaultSynth ??= synth();
  return defaultSynth;
};

/** The API function's grants: one row per action and resource. */
const handlerGrants = (api: OrdersApi, template: Template) =>
  permissionsOf(template, api.function.executionRole);
const actionsOf = (grants: ReturnType<typeof handlerGrants>, prefix: string) =>
  [...new Set(grants.map((g) => g.action).filter((a) => a.startsWith(prefix)))].sort();

describe('OrdersApi', () => {
  it('runs the handler on Node.js 24, arm64, with the table name and the outbox writer settings', () => {
    const { table, template } = synthDefault();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: Match.objectLike({
          TABLE_NAME: refOf(table),
          POWERTOOLS_SERVICE_NAME: 'orders-api',
          [writerSettings.variable]: settingsLike({
            tableName: refMarkerOf(table),
            layout: ordersOutboxLayout,
            deliveryTracking: true,
            retentionDays: 7,
          }),
        }),
      },
    });
  });

  it('passes the metrics namespace and log level to the function', () => {
    const { api, template } = synth({ metricsNamespace: 'Shop/Orders', logLevel: 'WARN' });
    expect(api.serviceName).toBe('orders-api');
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_METRICS_NAMESPACE: 'Shop/Orders',
          POWERTOOLS_LOG_LEVEL: 'WARN',
        }),
      },
    });
  });

  it('grants exactly GetItem, PutItem and UpdateItem on the table itself, its logs and X-Ray: no Scan, Query, DeleteItem or indexes', () => {
    // Prepare
    const { api, table, template } = synthDefault();

    // Act
    const grants = handlerGrants(api, template);

    // Assess: the outbox's grantWrite adds PutItem on the same table (a same-table outbox).
    expect(grants).toEqual(
      withBaseGrants(api.function.logGroup, [
        { action: 'dynamodb:GetItem', resource: arnOf(table) },
        { action: 'dynamodb:PutItem', resource: arnOf(table) },
        { action: 'dynamodb:PutItem', resource: arnOf(table) },
        { action: 'dynamodb:UpdateItem', resource: arnOf(table) },
      ]),
    );
    const role = template.toJSON().Resources[logicalIdOf(api.function.executionRole)];
    expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('keeps the function and access log groups by default, and removes them when asked', () => {
    const removalOf = ({ api, template }: ReturnType<typeof synth>) =>
      [api.function.logGroup, api.accessLogs].map(
        (group) => template.toJSON().Resources[logicalIdOf(group)]?.DeletionPolicy,
      );
    expect(removalOf(synthDefault())).toEqual(['Retain', 'Retain']);
    expect(removalOf(synth({ logRemovalPolicy: RemovalPolicy.DESTROY }))).toEqual(['Delete', 'Delete']);
  });

  it('grants the table key to the function when the table is encrypted with a customer managed key', () => {
    const { api, template } = synth({}, { encryptionKey: true });
    expect(actionsOf(handlerGrants(api, template), 'kms:')).toEqual([
      'kms:Decrypt',
      'kms:Encrypt',
      'kms:GenerateDataKey',
    ]);
  });

  it('writes outbox items without tracking when the outbox has none', () => {
    const { api, template } = synth({}, { deliveryTracking: false });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ [writerSettings.variable]: settingsLike({ deliveryTracking: false }) }),
      },
    });
    expect(actionsOf(handlerGrants(api, template), 'dynamodb:')).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
  });

  it('serves the three routes through one payload 2.0 Lambda proxy integration', () => {
    const { template } = synthDefault();
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.resourceCountIs('AWS::ApiGatewayV2::Integration', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
    });
    const routeKeys = Object.values(template.findResources('AWS::ApiGatewayV2::Route'))
      .map((r) => r.Properties.RouteKey)
      .sort();
    expect(routeKeys).toEqual(['GET /orders/{orderId}', 'POST /orders', 'POST /orders/{orderId}/cancel']);
  });

  it('requires IAM authorization on every route by default', () => {
    const { template } = synthDefault();
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route'));
    expect(routes.map((r) => r.Properties.AuthorizationType)).toEqual(['AWS_IAM', 'AWS_IAM', 'AWS_IAM']);
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 0);
  });

  it('uses a JWT authorizer with the given issuer, audience and scopes instead', () => {
    // Act
    const { template } = synth({
      authorization: {
        type: 'jwt',
        issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_example',
        audience: ['orders-client'],
        scopes: ['orders/write'],
      },
    });

    // Assess
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: {
        Issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_example',
        Audience: ['orders-client'],
      },
    });
    const [authorizerId] = Object.keys(template.findResources('AWS::ApiGatewayV2::Authorizer'));
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route'));
    for (const route of routes) {
      expect(route.Properties).toMatchObject({
        AuthorizationType: 'JWT',
        AuthorizerId: { Ref: authorizerId },
        AuthorizationScopes: ['orders/write'],
      });
    }
  });

  it.each([
    [{ authorization: { type: 'jwt', issuer: 'http://insecure.example.com', audience: ['a'] } }, /https/],
    [{ authorization: { type: 'jwt', issuer: 'https://issuer.example.com', audience: [] } }, /audience/],
    [{ throttlingRateLimit: 0 }, /throttlingRateLimit/],
    [{ throttlingBurstLimit: 1.5 }, /throttlingBurstLimit/],
  ] as const)('rejects invalid props %j', (props, message) => {
    expect(() => synth(props as Partial<OrdersApiProps>)).toThrow(message);
  });

  it('throttles the $default stage with the default rate and burst, or the given ones', () => {
    synthDefault().template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
    });
    synth({ throttlingRateLimit: 7, throttlingBurstLimit: 3 }).template.hasResourceProperties(
      'AWS::ApiGatewayV2::Stage',
      { DefaultRouteSettings: { ThrottlingRateLimit: 7, ThrottlingBurstLimit: 3 } },
    );
  });

  it('writes JSON access logs, without client IPs, to a log group with bounded retention', () => {
    // Prepare
    const { stack, api, template } = synth({ accessLogRetention: RetentionDays.THREE_MONTHS });
    const logGroupId = stack.getLogicalId(api.accessLogs.node.defaultChild as never);

    // Act
    const [stage] = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'));
    const settings = stage?.Properties.AccessLogSettings;

    // Assess
    expect(settings.DestinationArn).toEqual({ 'Fn::GetAtt': [logGroupId, 'Arn'] });
    const format = JSON.parse(settings.Format) as Record<string, string>;
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      routeKey: '$context.routeKey',
      status: '$context.status',
      iamPrincipal: '$context.identity.userArn',
    });
    expect(settings.Format).not.toMatch(/sourceIp|userAgent/);
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  it('exposes the stage URL', () => {
    const { stack, api } = synthDefault();
    expect(stack.resolve(api.url)).toEqual({
      'Fn::Join': [
        '',
        [
          'https://',
          refOf(api.api),
          '.execute-api.',
          { Ref: 'AWS::Region' },
          '.',
          { Ref: 'AWS::URLSuffix' },
          '/',
        ],
      ],
    });
  });
});
