import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { readStageConfig } from '../../lib/config';
import { OrdersApi, type OrdersApiProps } from '../../lib/constructs/orders-api';
import { OrdersTable } from '../../lib/constructs/orders-table';
import { OrdersStack } from '../../lib/orders-stack';

const synth = (
  props: Partial<Omit<OrdersApiProps, 'table'>> = {},
  options: { encryptionKey?: boolean } = {},
) => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  // A customer managed key on TableV2 needs a concrete region.
  const env = options.encryptionKey ? { region: 'eu-west-1', account: '123456789012' } : undefined;
  const stack = new Stack(app, 'OrdersApiTest', env ? { env } : {});
  const encryptionKey = options.encryptionKey ? new Key(stack, 'Key') : undefined;
  const { table } = new OrdersTable(stack, 'Orders', encryptionKey ? { encryptionKey } : {});
  const api = new OrdersApi(stack, 'Api', { table, ...props });
  return { stack, api, template: Template.fromStack(stack) };
};

/** Synthesizing is the slow part: tests that only read the default template share one. */
let defaultSynth: ReturnType<typeof synth> | undefined;
const synthDefault = () => {
  defaultSynth ??= synth();
  return defaultSynth;
};

type Statement = { Action: string | string[]; Resource: unknown };

/** Every statement the API function's role grants: its inline policies and the policies attached to it. */
const handlerStatements = (stack: Stack, api: OrdersApi, template: Template): Statement[] => {
  const roleId = stack.getLogicalId(api.handler.executionRole.node.defaultChild as never);
  const inline = (template.toJSON().Resources[roleId]?.Properties.Policies ?? []) as Array<{
    PolicyDocument: { Statement: Statement[] };
  }>;
  const attached = Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
  return [...inline.flatMap((p) => p.PolicyDocument.Statement), ...attached];
};
const actionsOf = (statements: Array<{ Action: string | string[] }>, prefix: string) =>
  statements
    .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))
    .filter((a) => a.startsWith(prefix))
    .sort();

describe('OrdersApi', () => {
  it('runs the handler on Node.js 24, arm64, with the table name and the delivery-tracking settings', () => {
    const { template } = synthDefault();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: Match.objectLike({
          TABLE_NAME: { Ref: Match.stringLikeRegexp('^OrdersTable') },
          OUTBOX_DELIVERY_TRACKING: 'true',
          OUTBOX_RETENTION_DAYS: '7',
          POWERTOOLS_SERVICE_NAME: 'orders-api',
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

  it('grants the function exactly GetItem, PutItem and UpdateItem on the table itself: no Scan, Query, DeleteItem or indexes', () => {
    const { stack, api, template } = synthDefault();
    const statements = handlerStatements(stack, api, template);
    expect(actionsOf(statements, 'dynamodb:')).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    expect(actionsOf(statements, 'kms:')).toEqual([]);
    const dynamo = statements.filter((s) => actionsOf([s], 'dynamodb:').length > 0);
    expect(dynamo).toHaveLength(1);
    expect(dynamo[0]?.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^OrdersTable/), 'Arn'] });
  });

  it('grants nothing else but writing its own log group and X-Ray traces, without a managed policy', () => {
    // Prepare
    const { stack, api, template } = synthDefault();
    const logGroupArn = {
      'Fn::GetAtt': [stack.getLogicalId(api.handler.logGroup.node.defaultChild as never), 'Arn'],
    };

    // Act
    const rows = handlerStatements(stack, api, template)
      .flatMap((s) => [s.Action].flat().map((action) => ({ action, resource: s.Resource })))
      .filter((row) => !row.action.startsWith('dynamodb:'))
      .sort((a, b) => a.action.localeCompare(b.action));

    // Assess
    expect(rows).toEqual([
      { action: 'logs:CreateLogStream', resource: logGroupArn },
      { action: 'logs:PutLogEvents', resource: logGroupArn },
      { action: 'xray:PutTelemetryRecords', resource: '*' },
      { action: 'xray:PutTraceSegments', resource: '*' },
    ]);
    const role =
      template.toJSON().Resources[stack.getLogicalId(api.handler.executionRole.node.defaultChild as never)];
    expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('keeps the function and access log groups by default, and removes them when asked', () => {
    const removalOf = (template: Template) =>
      Object.values(template.findResources('AWS::Logs::LogGroup')).map((g) => g.DeletionPolicy);
    expect(removalOf(synthDefault().template)).toEqual(['Retain', 'Retain']);
    expect(removalOf(synth({ logRemovalPolicy: RemovalPolicy.DESTROY }).template)).toEqual([
      'Delete',
      'Delete',
    ]);
  });

  it('grants the table key to the function when the table is encrypted with a customer managed key', () => {
    const { stack, api, template } = synth({}, { encryptionKey: true });
    expect(actionsOf(handlerStatements(stack, api, template), 'kms:')).toEqual([
      'kms:Decrypt',
      'kms:Encrypt',
      'kms:GenerateDataKey',
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
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route'));
    for (const route of routes) {
      expect(route.Properties).toMatchObject({
        AuthorizationType: 'JWT',
        AuthorizerId: { Ref: expect.stringMatching(/JwtAuthorizer/) },
        AuthorizationScopes: ['orders/write'],
      });
    }
  });

  it.each([
    [{ authorization: { type: 'jwt', issuer: 'http://insecure.example.com', audience: ['a'] } }, /https/],
    [{ authorization: { type: 'jwt', issuer: 'https://issuer.example.com', audience: [] } }, /audience/],
    [{ throttlingRateLimit: 0 }, /throttlingRateLimit/],
    [{ throttlingBurstLimit: 1.5 }, /throttlingBurstLimit/],
    [{ outboxRetentionDays: 0 }, /outboxRetentionDays/],
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
          { Ref: expect.stringMatching(/HttpApi/) },
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

describe('OrdersStack: the API per stage', () => {
  const synthStack = (context: Record<string, string>) => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
    const config = readStageConfig((key) => app.node.tryGetContext(key));
    const stack = new OrdersStack(app, 'Orders', { config });
    return { stack, template: Template.fromStack(stack) };
  };
  const routeAuthorization = (template: Template) =>
    Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map(
      (r) => r.Properties.AuthorizationType,
    );

  it.each([
    ['dev', 50, 100],
    ['prod', 500, 1000],
  ])('%s: IAM on every route, throttled at %d rps with a burst of %d', (stage, rate, burst) => {
    const { template } = synthStack({ stage });
    expect(routeAuthorization(template)).toEqual(['AWS_IAM', 'AWS_IAM', 'AWS_IAM']);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: rate, ThrottlingBurstLimit: burst },
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
  });

  it('uses a JWT authorizer when the context asks for one, and the configured throttling and outbox settings', () => {
    // Act
    const { template } = synthStack({
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
      JwtConfiguration: { Issuer: 'https://issuer.example.com', Audience: ['orders-client', 'orders-admin'] },
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ OUTBOX_DELIVERY_TRACKING: 'false', OUTBOX_RETENTION_DAYS: '3' }),
      },
    });
  });

  it('deploys the table the write path needs and gives the API function only its three actions', () => {
    // Act
    const { stack, template } = synthStack({ stage: 'dev' });

    // Assess
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
    const statements = handlerStatements(stack, (stack as OrdersStack).api, template);
    expect(actionsOf(statements, 'dynamodb:')).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    template.hasOutput('ApiUrl', { Value: Match.objectLike({ 'Fn::Join': Match.anyValue() }) });
  });
});
