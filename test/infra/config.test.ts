import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { afterAll, describe, expect, it } from 'vitest';
import { CONTEXT_KEYS, InvalidContextError, readStageConfig } from '../../lib/config';

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
    [{ stage: 'staging' }, 'stage must be one of dev, prod (got staging)'],
    [{ alarmEmail: 'not-an-address' }, 'alarmEmail must be an e-mail address (got not-an-address)'],
    [{ logLevel: 'TRACE' }, 'logLevel must be one of DEBUG, INFO, WARN, ERROR (got TRACE)'],
    [{ logRetentionDays: '10' }, 'logRetentionDays must be one of 1, 3, 5, 7,'],
    [{ encryption: 'none' }, 'encryption must be one of aws-owned, customer-managed (got none)'],
    [{ kmsKeyArn: 'alias/orders' }, 'kmsKeyArn must be a KMS key ARN (got alias/orders)'],
    [
      { kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/0f2c8c1e-3b7a-4d59-9d3e-6a1f0c2b4e8d' },
      'kmsKeyArn needs encryption=customer-managed',
    ],
    [{ apiAuth: 'basic' }, 'apiAuth must be one of iam, jwt (got basic)'],
    [
      { apiAuth: 'jwt' },
      'apiJwtIssuer is required with apiAuth=jwt; apiJwtAudience is required with apiAuth=jwt',
    ],
    [
      { apiAuth: 'jwt', apiJwtIssuer: 'http://issuer.example.com', apiJwtAudience: 'orders' },
      'apiJwtIssuer must be an https:// URL (got http://issuer.example.com)',
    ],
    [{ apiRateLimit: '0' }, 'apiRateLimit must be a positive number (got 0)'],
    [{ apiBurstLimit: '1.5' }, 'apiBurstLimit must be a positive whole number (got 1.5)'],
    [
      { metricsNamespace: 'my namespace' },
      'metricsNamespace must be a CloudWatch namespace (got my namespace)',
    ],
    [{ eventSource: 'aws.orders' }, 'eventSource must not start with "aws." (reserved) (got aws.orders)'],
    [{ deliveryTracking: 'yes' }, 'deliveryTracking must be true or false (got yes)'],
    [{ outboxRetentionDays: '0' }, 'outboxRetentionDays must be a whole number from 1 to 3650 (got 0)'],
    [{ archiveRetentionDays: '-1' }, 'archiveRetentionDays must be a whole number from 0 to 36500 (got -1)'],
    [
      { reconcilerThresholdMinutes: 'soon' },
      'reconcilerThresholdMinutes must be a whole number from 1 to 1440',
    ],
    [
      { reconcilerIntervalMinutes: '1' },
      'reconcilerIntervalMinutes must be a whole number from 3 to 1440 (got 1)',
    ],
    [{ iteratorAgeAlarmSeconds: '-1' }, 'iteratorAgeAlarmSeconds must be a positive number (got -1)'],
    [
      { api5xxRateAlarmPercent: '150' },
      'api5xxRateAlarmPercent must be a percentage above 0, at most 100 (got 150)',
    ],
    [{ relayLagP99AlarmMs: 'soon' }, 'relayLagP99AlarmMs must be a positive number (got soon)'],
  ])('rejects %o in one line naming the context key and what it accepts', (context, expected) => {
    const error = catchError(() => read(context));

    expect(error).toBeInstanceOf(InvalidContextError);
    expect(error.message).toContain(`Invalid CDK context: ${expected}`);
    expect(error.message).not.toContain('\n');
    // The schema's internal paths (outbox.…, api.…, alarms.…) mean nothing to the person who typed -c.
    expect(error.message).not.toMatch(/\b(outbox|api|alarms)\.[a-z]/);
  });

  it('names every bad setting at once', () => {
    expect(() => read({ logLevel: 'TRACE', outboxRetentionDays: '0' })).toThrow(
      /logLevel must be one of .*; outboxRetentionDays must be a whole number/,
    );
  });

  it('rejects a context key it does not know, suggesting the ones it resembles', () => {
    const error = catchError(() =>
      readStageConfig(
        () => undefined,
        ['stage', 'retentionDays', '@aws-cdk/core:checkSecretUsage', 'aws:cdk:bundling-stacks'],
      ),
    );

    expect(error).toBeInstanceOf(InvalidContextError);
    expect(error.message).toMatch(
      /^Unknown CDK context key: retentionDays \(did you mean logRetentionDays, outboxRetentionDays or archiveRetentionDays\?\)\. Known keys: stage, /,
    );
  });

  it('reads the keys the README documents, and no others', () => {
    const documented = [
      ...readFileSync('README.md', 'utf8').matchAll(/^\| (`\w+`(?:, `\w+`)*) +\|/gm),
    ].flatMap(([, cell]) => [...(cell ?? '').matchAll(/`(\w+)`/g)].map(([, key]) => key));
    const contextKeys = documented.filter((key) => !/^[A-Z_]+$/.test(key ?? ''));

    expect([...contextKeys].sort()).toEqual([...CONTEXT_KEYS].sort());
  });
});

describe('the CDK app (bin/app.ts) with bad context', () => {
  // Where a synth would write, were the check to let the app through.
  const outdir = mkdtempSync(join(tmpdir(), 'outbox-config-'));
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  /** The app as `cdk synth` runs it: the CLI passes `-c` values in CDK_CONTEXT_JSON. */
  const synth = (context: Record<string, string>) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
      encoding: 'utf8',
      env: {
        ...process.env,
        CDK_CONTEXT_JSON: JSON.stringify({ ...context, 'aws:cdk:bundling-stacks': [] }),
        CDK_OUTDIR: outdir,
      },
      timeout: 60_000,
    });

  it.each([
    [
      { outboxRetentionDays: '0' },
      'Invalid CDK context: outboxRetentionDays must be a whole number from 1 to 3650 (got 0)',
    ],
    [{ retentionDays: '0' }, 'Unknown CDK context key: retentionDays (did you mean'],
  ])('-c %o: one line on stderr, no stack trace, exit status 1', (context, message) => {
    const { status, stderr } = synth(context);

    expect(status).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain(message);
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(stderr).not.toMatch(/\bError:/);
  });
});

const catchError = (fn: () => unknown): Error => {
  try {
    fn();
  } catch (error) {
    if (error instanceof Error) return error;
  }
  throw new Error('expected an error');
};
