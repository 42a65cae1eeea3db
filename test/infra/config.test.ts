import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { readStageConfig } from '../../lib/config';

const read = (context: Record<string, unknown>) => readStageConfig((key) => context[key]);

describe('readStageConfig', () => {
  it('dev by default: debug logs kept a week, AWS owned keys, no alarm e-mail', () => {
    const config = read({});

    expect(config.alarmEmail).toBeUndefined();
    expect(config.kmsKeyArn).toBeUndefined();
    expect(config).toMatchObject({
      stage: 'dev',
      metricsNamespace: 'DynamoDbOutbox',
      logLevel: 'DEBUG',
      logRetentionDays: RetentionDays.ONE_WEEK,
      encryption: 'aws-owned',
      alarms: { iteratorAgeSeconds: 300, relayLagP99Ms: 30_000, api5xxRatePercent: 1 },
    });
  });

  it('prod: info logs kept three months, same alarm thresholds', () => {
    expect(read({ stage: 'prod' })).toMatchObject({
      stage: 'prod',
      logLevel: 'INFO',
      logRetentionDays: RetentionDays.THREE_MONTHS,
      alarms: { iteratorAgeSeconds: 300, relayLagP99Ms: 30_000, api5xxRatePercent: 1 },
    });
  });

  it('takes `-c key=value` strings and cdk.json numbers alike', () => {
    const config = read({
      stage: 'prod',
      alarmEmail: 'oncall@example.com',
      logLevel: 'WARN',
      logRetentionDays: '365',
      encryption: 'customer-managed',
      kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/0f2c8c1e-3b7a-4d59-9d3e-6a1f0c2b4e8d',
      iteratorAgeAlarmSeconds: 60,
      relayLagP99AlarmMs: '5000',
      api5xxRateAlarmPercent: '0.5',
    });

    expect(config).toMatchObject({
      alarmEmail: 'oncall@example.com',
      logLevel: 'WARN',
      logRetentionDays: RetentionDays.ONE_YEAR,
      encryption: 'customer-managed',
      alarms: { iteratorAgeSeconds: 60, relayLagP99Ms: 5000, api5xxRatePercent: 0.5 },
    });
  });

  it('treats an empty value as unset', () => {
    expect(read({ alarmEmail: '', logLevel: '' })).toMatchObject({ logLevel: 'DEBUG' });
    expect(read({ alarmEmail: '' }).alarmEmail).toBeUndefined();
  });

  it.each([
    [{ stage: 'staging' }, /stage/],
    [{ alarmEmail: 'not-an-address' }, /alarmEmail/],
    [{ logLevel: 'TRACE' }, /logLevel/],
    [{ logRetentionDays: '10' }, /logRetentionDays: must be one of 1, 3, 5, 7/],
    [{ encryption: 'none' }, /encryption/],
    [{ kmsKeyArn: 'alias/orders' }, /kmsKeyArn: must be a KMS key ARN/],
    [
      { kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/0f2c8c1e-3b7a-4d59-9d3e-6a1f0c2b4e8d' },
      /kmsKeyArn needs encryption=customer-managed/,
    ],
    [{ iteratorAgeAlarmSeconds: '-1' }, /alarms.iteratorAgeSeconds/],
    [{ api5xxRateAlarmPercent: '150' }, /alarms.api5xxRatePercent/],
    [{ relayLagP99AlarmMs: 'soon' }, /alarms.relayLagP99Ms/],
  ])('rejects %o with a message naming the setting', (context, message) => {
    expect(() => read(context)).toThrow(message);
  });
});
