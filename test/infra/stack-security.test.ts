import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { ordersTable } from '../../lambdas/orders/table';
import { readStageConfig } from '../../lib/config';
import { DataEncryption } from '../../lib/constructs/encryption';
import { OrdersTable } from '../../lib/constructs/orders-table';
import { OrdersStack } from '../../lib/orders-stack';
import { removeTestApps, testApp } from '../../packages/dynamodb-outbox/test/support/infra';

afterAll(removeTestApps);

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/0f2c8c1e-3b7a-4d59-9d3e-6a1f0c2b4e8d';

const PROD_CMK = { stage: 'prod', encryption: 'customer-managed', alarmEmail: 'oncall@example.com' };

const templates = new Map<string, Template>();

/** The orders stack for a CDK context, synthesized once per context. */
const stackFor = (context: Record<string, string>): Template => {
  const cacheKey = JSON.stringify(context);
  const cached = templates.get(cacheKey);
  if (cached) return cached;
  const app = testApp();
  const stack = new OrdersStack(app, 'Orders', {
    config: readStageConfig((key) => context[key]),
    // A customer managed key on a table is named per replica region, so the stack needs one.
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  const template = Template.fromStack(stack);
  templates.set(cacheKey, template);
  return template;
};

const ordersTableResource = (template: Template) => {
  // Inventory's outbox table has a stream too, under other key names.
  const tables = template.findResources('AWS::DynamoDB::GlobalTable', {
    Properties: {
      StreamSpecification: Match.anyValue(),
      KeySchema: [Match.objectLike({ AttributeName: 'PK' }), Match.objectLike({ AttributeName: 'SK' })],
    },
  });
  const found = Object.values(tables);
  expect(found).toHaveLength(1);
  return found[0] as {
    Properties: Record<string, unknown>;
    DeletionPolicy?: string;
    UpdateReplacePolicy?: string;
  };
};

describe('orders table data safety', () => {
  it.each(['dev', 'prod'])('%s: point-in-time recovery is on', (stage) => {
    const table = ordersTableResource(stackFor({ stage }));

    expect(table.Properties.Replicas).toEqual([
      expect.objectContaining({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
    ]);
  });

  it('prod: the table is retained on stack deletion and protected against deletion', () => {
    const table = ordersTableResource(stackFor({ stage: 'prod' }));

    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
    expect(table.Properties.Replicas).toEqual([expect.objectContaining({ DeletionProtectionEnabled: true })]);
  });

  it('dev: the table goes with the stack', () => {
    const table = ordersTableResource(stackFor({ stage: 'dev' }));

    expect(table.DeletionPolicy).toBe('Delete');
    expect(table.Properties.Replicas).toEqual([
      expect.objectContaining({ DeletionProtectionEnabled: false }),
    ]);
  });

  it('keeps the stream the relay reads and the TTL that cleans the outbox', () => {
    const table = ordersTableResource(stackFor({ stage: 'prod' }));

    expect(table.Properties).toMatchObject({
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
      TimeToLiveSpecification: { AttributeName: ordersTable.timeToLiveAttribute, Enabled: true },
    });
  });
});

describe('encryption at rest', () => {
  it.each(['dev', 'prod'])('%s: AWS owned keys by default, no customer managed data key', (stage) => {
    const template = stackFor({ stage });

    const table = ordersTableResource(template);
    expect(table.Properties.SSESpecification).toEqual({ SSEEnabled: false });
    expect(table.Properties.Replicas).toEqual([
      expect.not.objectContaining({ SSESpecification: expect.anything() }),
    ]);
    // The only keys are the alarm topics' (one per outbox's monitoring, orders' and inventory's),
    // which CloudWatch needs (see monitoring.test.ts).
    template.resourceCountIs('AWS::KMS::Key', 2);
  });

  it('customer-managed: a rotating data key, retained in prod, encrypts the table', () => {
    const template = stackFor(PROD_CMK);

    const keys = template.findResources('AWS::KMS::Key', {
      Properties: { Description: Match.stringLikeRegexp('outbox table') },
    });
    const [keyId, key] = Object.entries(keys)[0] ?? [];
    expect(key).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: { EnableKeyRotation: true, PendingWindowInDays: 30 },
    });
    const table = ordersTableResource(template);
    expect(table.Properties.SSESpecification).toEqual({ SSEEnabled: true, SSEType: 'KMS' });
    expect(table.Properties.Replicas).toEqual([
      expect.objectContaining({ SSESpecification: { KMSMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } } }),
    ]);
  });

  it('customer-managed in dev: the data key is deleted with the stack, like the data', () => {
    const stack = new Stack(testApp(), 'Keys', { env: { region: 'eu-west-1' } });

    new DataEncryption(stack, 'Encryption', { mode: 'customer-managed', retain: false });

    Template.fromStack(stack).hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ EnableKeyRotation: true }),
    });
  });

  it('kmsKeyArn: the table uses the existing key and none is created', () => {
    const stack = new Stack(testApp(), 'Keys', { env: { region: 'eu-west-1' } });

    const { key } = new DataEncryption(stack, 'Encryption', { mode: 'customer-managed', keyArn: KEY_ARN });
    new OrdersTable(stack, 'Orders', { encryptionKey: key });

    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::KMS::Key', 0);
    expect(ordersTableResource(template).Properties.Replicas).toEqual([
      expect.objectContaining({ SSESpecification: { KMSMasterKeyId: KEY_ARN } }),
    ]);
  });

  it('rejects a key ARN without customer managed encryption', () => {
    const stack = new Stack(testApp(), 'Keys');

    expect(() => new DataEncryption(stack, 'Encryption', { mode: 'aws-owned', keyArn: KEY_ARN })).toThrow(
      /customer-managed/,
    );
  });
});

describe('alarm notifications', () => {
  it('subscribes the configured alarm e-mail to an encrypted, TLS-only topic', () => {
    const template = stackFor(PROD_CMK);

    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('has no subscription without an alarm e-mail, and a dashboard in every stage', () => {
    for (const stage of ['dev', 'prod']) {
      const template = stackFor({ stage });

      template.resourceCountIs('AWS::SNS::Subscription', 0);
      // One per outbox: the orders outbox's (the stack's monitoring) and inventory's.
      template.resourceCountIs('AWS::CloudWatch::Dashboard', 2);
    }
  });

  it('alarms on the thresholds and metrics namespace from the CDK context', () => {
    const app = testApp();
    const context: Record<string, string> = {
      stage: 'dev',
      iteratorAgeAlarmSeconds: '120',
      relayLagP99AlarmMs: '10000',
      api5xxRateAlarmPercent: '5',
      metricsNamespace: 'Shop/Outbox',
    };

    const { monitoring } = new OrdersStack(app, 'Orders', { config: readStageConfig((key) => context[key]) });

    expect(monitoring.metricsNamespace).toBe('Shop/Outbox');
    expect(monitoring.thresholds.iteratorAge.toSeconds()).toBe(120);
    expect(monitoring.thresholds.relayLagP99.toMilliseconds()).toBe(10_000);
    expect(monitoring.thresholds.api5xxRatePercent).toBe(5);
  });
});
