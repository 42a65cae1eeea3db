import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, StreamViewType, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Key } from 'aws-cdk-lib/aws-kms';
import { beforeAll, describe, expect, it } from 'vitest';
import { relayFilterPattern } from '../../lambdas/shared/relay-filter';
import { OutboxRelay, type OutboxRelayProps } from '../../lib/constructs/outbox-relay';

interface Built {
  stack: Stack;
  relay: OutboxRelay;
  table: TableV2;
  bus: EventBus;
  template: Template;
}

const build = (
  props: Partial<Omit<OutboxRelayProps, 'table' | 'eventBus'>> = {},
  options: { stream?: StreamViewType | false; key?: boolean } = {},
): Built => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'RelayTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  const key = options.key ? new Key(stack, 'Key') : undefined;
  const table = new TableV2(stack, 'Table', {
    partitionKey: { name: 'PK', type: AttributeType.STRING },
    sortKey: { name: 'SK', type: AttributeType.STRING },
    ...(options.stream === false ? {} : { dynamoStream: options.stream ?? StreamViewType.NEW_IMAGE }),
    ...(key ? { encryption: TableEncryptionV2.customerManagedKey(key) } : {}),
  });
  const bus = new EventBus(stack, 'Bus');
  const relay = new OutboxRelay(stack, 'Relay', {
    table,
    eventBus: bus,
    ...(key ? { encryptionKey: key } : {}),
    ...props,
  });
  return { stack, relay, table, bus, template: Template.fromStack(stack) };
};

const logicalId = (stack: Stack, construct: { node: { defaultChild?: unknown } }): string =>
  stack.getLogicalId(construct.node.defaultChild as never);

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

type PolicyDocument = { Statement: Statement[] };

/**
 * Every statement the relay's role grants (its inline policies and the policies attached to it),
 * actions sorted, one row per action and resource.
 */
const permissionsOf = ({ stack, relay, template }: Built): { action: string; resource: unknown }[] => {
  const roleId = logicalId(stack, relay.handler.executionRole);
  const inline = (template.toJSON().Resources[roleId]?.Properties.Policies ?? []) as {
    PolicyDocument: PolicyDocument;
  }[];
  const attached = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
    p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId),
  ) as { Properties: { PolicyDocument: PolicyDocument } }[];
  return [...inline.map((p) => p.PolicyDocument), ...attached.map((p) => p.Properties.PolicyDocument)]
    .flatMap((document) => document.Statement)
    .flatMap((s) => {
      expect(s.Effect).toBe('Allow');
      const actions = Array.isArray(s.Action) ? s.Action : [s.Action];
      const resources = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
      return actions.flatMap((action) => resources.map((resource) => ({ action, resource })));
    })
    .sort(
      (a, b) =>
        a.action.localeCompare(b.action) ||
        JSON.stringify(a.resource).localeCompare(JSON.stringify(b.resource)),
    );
};

const arnOf = (stack: Stack, construct: { node: { defaultChild?: unknown } }) => ({
  'Fn::GetAtt': [logicalId(stack, construct), 'Arn'],
});

describe('OutboxRelay', () => {
  let built: Built;

  // Synthesis is CPU-bound: give it the test timeout, not the 10 s hook default, on a busy CI box.
  beforeAll(() => {
    built = build();
  }, 60_000);

  it('maps the stream from its oldest record, filtered to outbox INSERTs by the shared filter', () => {
    const { stack, table, template } = built;
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId(stack, table), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify(relayFilterPattern) }] },
    });
    expect(JSON.parse(JSON.stringify(relayFilterPattern))).toEqual({
      eventName: ['INSERT'],
      dynamodb: { Keys: { SK: { S: [{ prefix: 'OUTBOX#' }] } } },
    });
  });

  it('handles failures: partial batch responses, bisect, bounded retries and age, on-failure queue', () => {
    const { stack, relay, template } = built;
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: arnOf(stack, relay.failureQueue) } },
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 0,
      ParallelizationFactor: 1,
      Enabled: true,
    });
  });

  it('passes tunables through to the mapping', () => {
    const { template } = build({
      batchSize: 500,
      maxBatchingWindow: Duration.seconds(2),
      parallelizationFactor: 4,
      retryAttempts: 3,
      maxRecordAge: Duration.hours(1),
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 2,
      ParallelizationFactor: 4,
      MaximumRetryAttempts: 3,
      MaximumRecordAgeInSeconds: 3600,
    });
  });

  it('grants exactly PutEvents on the bus, SendMessage on its queues, stream read, UpdateItem and its own logs', () => {
    const { stack, relay, table, bus, template } = built;
    const tableArn = arnOf(stack, table);
    const streamArn = { 'Fn::GetAtt': [logicalId(stack, table), 'StreamArn'] };
    const logGroupArn = arnOf(stack, relay.handler.logGroup);
    expect(permissionsOf(built)).toEqual([
      { action: 'dynamodb:DescribeStream', resource: streamArn },
      { action: 'dynamodb:GetRecords', resource: streamArn },
      { action: 'dynamodb:GetShardIterator', resource: streamArn },
      { action: 'dynamodb:ListStreams', resource: streamArn },
      { action: 'dynamodb:UpdateItem', resource: tableArn },
      { action: 'events:PutEvents', resource: arnOf(stack, bus) },
      { action: 'logs:CreateLogStream', resource: logGroupArn },
      { action: 'logs:PutLogEvents', resource: logGroupArn },
      { action: 'sqs:SendMessage', resource: arnOf(stack, relay.failureQueue) },
      { action: 'sqs:SendMessage', resource: arnOf(stack, relay.poisonQueue) },
      { action: 'xray:PutTelemetryRecords', resource: '*' },
      { action: 'xray:PutTraceSegments', resource: '*' },
    ]);
    const role = template.toJSON().Resources[logicalId(stack, relay.handler.executionRole)];
    expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('passes the relay its configuration through the environment', () => {
    const { stack, relay, table, bus, template } = built;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 30,
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: Match.objectLike({
          EVENT_BUS_NAME: { Ref: logicalId(stack, bus) },
          EVENT_SOURCE: 'orders',
          POISON_QUEUE_URL: { Ref: logicalId(stack, relay.poisonQueue) },
          OUTBOX_DELIVERY_TRACKING: 'true',
          OUTBOX_RETENTION_DAYS: '7',
          PUTEVENTS_MAX_BYTES: '1048576',
          TABLE_NAME: { Ref: logicalId(stack, table) },
          POWERTOOLS_SERVICE_NAME: 'outbox-relay',
        }),
      },
    });
  });

  it('writes nothing back to the table without delivery tracking', () => {
    const off = build({ deliveryTracking: false });
    expect(permissionsOf(off).map((p) => p.action)).not.toContain('dynamodb:UpdateItem');
    const fn = Object.values(off.template.findResources('AWS::Lambda::Function'))[0];
    expect(fn?.Properties.Environment.Variables).toMatchObject({ OUTBOX_DELIVERY_TRACKING: 'false' });
    expect(fn?.Properties.Environment.Variables).not.toHaveProperty('TABLE_NAME');
    expect(fn?.Properties.Environment.Variables).not.toHaveProperty('OUTBOX_RETENTION_DAYS');
  });

  it('encrypts both queues (SSE-SQS by default), refuses plain HTTP and keeps messages 14 days', () => {
    const { stack, relay, template } = built;
    template.resourceCountIs('AWS::SQS::Queue', 2);
    template.allResourcesProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    for (const queue of [relay.poisonQueue, relay.failureQueue]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: logicalId(stack, queue) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('uses a customer managed key for the queues, and may use the keys it needs: queues, stream, UpdateItem', () => {
    const withKey = build({}, { key: true });
    const keyId = Object.keys(withKey.template.findResources('AWS::KMS::Key'))[0] ?? '';
    withKey.template.allResourcesProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
    });
    const keyActions = permissionsOf(withKey)
      .filter((p) => JSON.stringify(p.resource).includes(keyId))
      .map((p) => p.action);
    // Send to the queues (GenerateDataKey, Decrypt), read the stream (Decrypt, DescribeKey), UpdateItem.
    expect(new Set(keyActions)).toEqual(
      new Set(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']),
    );
  });

  it('rejects a table without a stream and conflicting or unbounded settings', () => {
    expect(() => build({}, { stream: false })).toThrow(/no stream/);
    expect(() => build({}, { stream: StreamViewType.KEYS_ONLY })).toThrow(/needs new images/);
    expect(() => build({ deliveryTracking: false, retentionDays: 3 })).toThrow(/retentionDays applies only/);
    expect(() => build({ retryAttempts: -1 })).toThrow(/retryAttempts/);
    expect(() => build({ maxRecordAge: Duration.days(8) })).toThrow(/maxRecordAge/);
    expect(() => build({ parallelizationFactor: 11 })).toThrow(/parallelizationFactor/);
    expect(() => build({ maxBatchingWindow: Duration.minutes(6) })).toThrow(/maxBatchingWindow/);
    expect(() => build({ source: 'aws.orders' })).toThrow(/aws\./);
    expect(() => build({ putEventsMaxBytes: 1024 * 1024 + 1 })).toThrow(/putEventsMaxBytes/);
    expect(() => build({ putEventsMaxBytes: 256 * 1024 })).not.toThrow();
  });
});
