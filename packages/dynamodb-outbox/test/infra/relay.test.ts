import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, StreamViewType, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxRelay, type OutboxRelayProps } from '../../src/cdk/relay';
import { relayFilterPattern, sameTableLayout } from '../../src/runtime/layout';
import { relaySettings } from '../../src/runtime/settings';
import {
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

const layout = sameTableLayout({ partitionKey: 'PK', sortKey: 'SK' });

interface Built {
  relay: OutboxRelay;
  table: TableV2;
  bus: EventBus;
  template: Template;
}

const build = (
  props: Partial<Omit<OutboxRelayProps, 'table' | 'eventBus'>> = {},
  options: { stream?: StreamViewType | false; key?: boolean } = {},
): Built => {
  const stack = new Stack(testApp(), 'RelayTest', { env: { account: '123456789012', region: 'eu-west-1' } });
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
    layout,
    eventBus: bus,
    source: 'orders',
    ...(key ? { encryptionKey: key } : {}),
    ...props,
  });
  return { relay, table, bus, template: Template.fromStack(stack) };
};

const permissions = ({ relay, template }: Built) => permissionsOf(template, relay.function.executionRole);

afterAll(removeTestApps);

/** The files of the asset a function is deployed from, as synth staged it. */
const stagedFiles = (fn: IConstruct): string[] => {
  const { s3Key } = Stack.of(fn).resolve((fn.node.defaultChild as CfnFunction).code) as { s3Key: string };
  return readdirSync(join((fn.node.root as App).outdir, `asset.${s3Key.replace(/\.zip$/, '')}`)).sort();
};

describe('OutboxRelay', () => {
  let built: Built;

  // Synthesis is CPU-bound: give it the test timeout, not the 10 s hook default, on a busy CI box.
  beforeAll(() => {
    built = build();
  }, 60_000);

  it('deploys the relay prebuilt by the package build (assets/relay), not a bundle of its TypeScript', () => {
    const { template, relay } = built;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Code: { S3Bucket: Match.anyValue(), S3Key: Match.stringLikeRegexp('^[0-9a-f]{64}\\.zip$') },
    });
    expect(stagedFiles(relay.function)).toEqual([
      'index.mjs',
      'index.mjs.map',
      'tracing.mjs',
      'tracing.mjs.map',
    ]);
  });

  it("maps the stream from its oldest record, filtered to outbox INSERTs by the layout's filter", () => {
    const { table, template } = built;
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalIdOf(table), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify(relayFilterPattern(layout)) }] },
    });
    expect(relayFilterPattern(layout)).toEqual({
      eventName: ['INSERT'],
      dynamodb: { Keys: { SK: { S: [{ prefix: 'OUTBOX#' }] } } },
    });
  });

  it('handles failures: partial batch responses, bisect, retries until 6 hours of age, S3 on failure', () => {
    const { relay, template } = built;
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: -1,
      MaximumRecordAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: arnOf(relay.failureBucket) } },
      MetricsConfig: { Metrics: ['EventCount'] },
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

  it('grants exactly PutEvents on the bus, SendMessage on its queue, its bucket, stream read, PutItem, Query, UpdateItem and its own logs', () => {
    const { relay, table, bus, template } = built;
    const streamArn = { 'Fn::GetAtt': [logicalIdOf(table), 'StreamArn'] };
    expect(permissions(built)).toEqual(
      withBaseGrants(relay.function.logGroup, [
        { action: 'dynamodb:DescribeStream', resource: streamArn },
        { action: 'dynamodb:GetRecords', resource: streamArn },
        { action: 'dynamodb:GetShardIterator', resource: streamArn },
        { action: 'dynamodb:ListStreams', resource: streamArn },
        { action: 'dynamodb:PutItem', resource: arnOf(table) },
        { action: 'dynamodb:Query', resource: arnOf(table) },
        { action: 'dynamodb:UpdateItem', resource: arnOf(table) },
        { action: 'events:PutEvents', resource: arnOf(bus) },
        ...failureBucketGrants(relay.failureBucket),
        { action: 'sqs:SendMessage', resource: arnOf(relay.poisonQueue) },
      ]),
    );
    const role = template.toJSON().Resources[logicalIdOf(relay.function.executionRole)];
    expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('passes the relay its settings in one JSON variable: bus, source, queue, table, layout, tracking', () => {
    const { relay, table, bus, template } = built;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 30,
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'outbox-relay',
          [relaySettings.variable]: settingsLike({
            eventBusName: refMarkerOf(bus),
            source: 'orders',
            poisonQueueUrl: refMarkerOf(relay.poisonQueue),
            putEventsMaxBytes: 1_048_576,
            tableName: refMarkerOf(table),
            layout,
            deliveryTracking: true,
            retentionDays: 7,
          }),
        }),
      },
    });
    // The function reads back exactly what the construct wrote (tokens resolved at deploy time).
    expect(relaySettings.schema.parse(settingsOf(template, relay.function, relaySettings.variable))).toEqual(
      settingsOf(template, relay.function, relaySettings.variable),
    );
  });

  it('writes nothing back to the table without delivery tracking', () => {
    const off = build({ deliveryTracking: false, retentionDays: 3 });
    expect(permissions(off).map((p) => p.action)).not.toContain('dynamodb:UpdateItem');
    expect(permissions(off).map((p) => p.action)).not.toContain('dynamodb:PutItem');
    expect(settingsOf(off.template, off.relay.function, relaySettings.variable)).toMatchObject({
      deliveryTracking: false,
      retentionDays: 3,
    });
  });

  it('keeps failed batches in an encrypted, private, TLS-only bucket that expires them after 30 days', () => {
    const { relay, template } = built;
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        LifecycleConfiguration: {
          Rules: [Match.objectLike({ Status: 'Enabled', ExpirationInDays: 30 })],
        },
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: refOf(relay.failureBucket),
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('counts records sent to the bucket with the mapping metric CloudWatch alarms on', () => {
    const { relay } = built;
    const stack = Stack.of(relay);
    expect(relay.failureMetric.namespace).toBe('AWS/Lambda');
    expect(relay.failureMetric.metricName).toBe('OnFailureDestinationDeliveredEventCount');
    expect(stack.resolve(relay.failureMetric.dimensions)).toEqual({
      EventSourceMappingUUID: { Ref: logicalIdOf(relay.eventSourceMapping) },
    });
  });

  it('takes the failure retention, the key and an access-log bucket for the failure bucket', () => {
    const stack = new Stack(testApp(), 'Logs');
    const key = new Key(stack, 'Key');
    const table = new TableV2(stack, 'Table', {
      partitionKey: { name: 'PK', type: AttributeType.STRING },
      sortKey: { name: 'SK', type: AttributeType.STRING },
      dynamoStream: StreamViewType.NEW_IMAGE,
    });
    new OutboxRelay(stack, 'Relay', {
      table,
      layout,
      eventBus: new EventBus(stack, 'Bus'),
      source: 'orders',
      encryptionKey: key,
      failureRetention: Duration.days(90),
      accessLogsBucket: new Bucket(stack, 'Logs'),
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({ ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }) }),
        ],
      },
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 90 })] },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'outbox-relay-failures/' }),
    });
  });

  it('encrypts the poison queue (SSE-SQS by default), refuses plain HTTP and keeps messages 14 days', () => {
    const { relay, template } = built;
    template.resourceCountIs('AWS::SQS::Queue', 1);
    template.allResourcesProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    for (const queue of [relay.poisonQueue]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [refOf(queue)],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('uses a customer managed key for the queue and bucket, and may use the keys it needs: queue, bucket, stream, table', () => {
    const withKey = build({}, { key: true });
    const keyId = Object.keys(withKey.template.findResources('AWS::KMS::Key'))[0] ?? '';
    withKey.template.allResourcesProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
    });
    const keyActions = permissions(withKey)
      .filter((p) => JSON.stringify(p.resource).includes(keyId))
      .map((p) => p.action);
    // Send to the queues (GenerateDataKey, Decrypt), read the stream (Decrypt, DescribeKey), UpdateItem.
    expect(new Set(keyActions)).toEqual(
      new Set(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']),
    );
  });

  it('rejects a table without a stream and unbounded or invalid settings, naming the setting', () => {
    expect(() => build({}, { stream: false })).toThrow(/no stream/);
    expect(() => build({}, { stream: StreamViewType.KEYS_ONLY })).toThrow(/needs new images/);
    expect(() => build({ retryAttempts: -2 })).toThrow(/retryAttempts/);
    expect(() => build({ maxRecordAge: Duration.hours(24) })).toThrow(/maxRecordAge/);
    expect(() => build({ parallelizationFactor: 11 })).toThrow(/parallelizationFactor/);
    expect(() => build({ maxBatchingWindow: Duration.minutes(6) })).toThrow(/maxBatchingWindow/);
    expect(() => build({ source: 'aws.orders' })).toThrow(/OutboxRelay: .*aws\./);
    expect(() => build({ putEventsMaxBytes: 1024 * 1024 + 1 })).toThrow(/OutboxRelay: .*putEventsMaxBytes/);
    expect(() => build({ putEventsMaxBytes: 256 * 1024 })).not.toThrow();
    expect(() => build({ retentionDays: 0 })).toThrow(/OutboxRelay: .*retentionDays/);
  });
});
