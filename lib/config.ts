import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import * as z from 'zod';

/**
 * Deployment configuration, read from CDK context (`cdk.json` or `-c key=value`) and validated
 * here, so a typo fails the synth with a message instead of deploying something unintended.
 * Every setting but `stage` is optional: its default depends on the stage (see `stageDefaults`).
 */
const stages = ['dev', 'prod'] as const;
export type StageName = (typeof stages)[number];

const logLevels = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
const retentionValues = Object.values(RetentionDays).filter((v): v is RetentionDays => typeof v === 'number');

/** Context values given with `-c key=value` arrive as strings; cdk.json may hold numbers. */
const positiveNumber = z.coerce.number().positive();

/** Stage throttling of the orders API: steady requests per second, and the burst above it. */
const apiThrottling = { rateLimit: positiveNumber, burstLimit: z.coerce.number().int().positive() };

const stageConfigSchema = z
  .object({
    stage: z.enum(stages),
    /** CloudWatch namespace of the functions' EMF metrics; the alarms and dashboard read it. */
    metricsNamespace: z.string().regex(/^[A-Za-z0-9._/#:-]{1,255}$/, 'must be a CloudWatch namespace'),
    /** Alarm notifications go to this address (an SNS e-mail subscription, confirmed by its owner). */
    alarmEmail: z.email().optional(),
    /** Powertools log level of every function. */
    logLevel: z.enum(logLevels),
    /** CloudWatch Logs retention of every function's log group, in days (a value CloudWatch accepts). */
    logRetentionDays: z.coerce
      .number()
      .refine((v): v is RetentionDays => (retentionValues as number[]).includes(v), {
        message: `must be one of ${retentionValues.join(', ')}`,
      }),
    /**
     * Encryption at rest of the table, queues and bus: AWS owned keys (no cost, no key policy to
     * manage) or a customer managed KMS key (auditable in CloudTrail, revocable, $1/month).
     */
    encryption: z.enum(['aws-owned', 'customer-managed']),
    /** With `customer-managed`: use this existing key instead of creating one. */
    kmsKeyArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]+$/, 'must be a KMS key ARN')
      .optional(),
    /** Who may call the deployed orders API. There is no unauthenticated option (only offline is open). */
    api: z.discriminatedUnion('auth', [
      z.object({ auth: z.literal('iam'), ...apiThrottling }),
      z.object({
        auth: z.literal('jwt'),
        jwtIssuer: z
          .string({ error: 'apiJwtIssuer is required with apiAuth=jwt' })
          .regex(/^https:\/\/\S+$/, 'must be an https:// URL'),
        jwtAudience: z
          .array(z.string().min(1), { error: 'apiJwtAudience is required with apiAuth=jwt' })
          .min(1, 'apiJwtAudience is required with apiAuth=jwt'),
        ...apiThrottling,
      }),
    ]),
    outbox: z.object({
      /** `source` of every published event (EventBridge: 1 to 256 characters, never `aws.`-prefixed). */
      eventSource: z
        .string()
        .min(1)
        .max(256)
        .refine((v) => !v.startsWith('aws.'), 'must not start with "aws." (reserved)'),
      /**
       * The relay marks items published and only then arms their TTL, and the reconciler
       * republishes stragglers. Off: the write path arms the TTL and nothing is written back.
       */
      deliveryTracking: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]),
      /** Days a published outbox item stays in the table before TTL deletes it. */
      retentionDays: z.coerce.number().int().min(1).max(3650),
      /** Days the bus archive keeps every published event for replay; 0 keeps them forever. */
      archiveRetentionDays: z.coerce.number().int().min(0).max(36_500),
      /** With delivery tracking: republish events still unpublished this many minutes after they occurred. */
      reconcilerThresholdMinutes: z.coerce
        .number()
        .int()
        .min(1)
        .max(24 * 60),
      /** With delivery tracking: minutes between two reconciler runs. */
      reconcilerIntervalMinutes: z.coerce
        .number()
        .int()
        .min(3)
        .max(24 * 60),
    }),
    alarms: z.object({
      /** Oldest stream record the relay has not finished, in seconds. */
      iteratorAgeSeconds: positiveNumber,
      /** p99 of publish time minus occurredAt, in milliseconds. */
      relayLagP99Ms: positiveNumber,
      /** Share of API requests answered with a 5xx, in percent. */
      api5xxRatePercent: positiveNumber.max(100),
    }),
  })
  .refine((c) => c.kmsKeyArn === undefined || c.encryption === 'customer-managed', {
    message: 'kmsKeyArn needs encryption=customer-managed',
    path: ['kmsKeyArn'],
  });

export type StageConfig = z.infer<typeof stageConfigSchema>;

/**
 * Production keeps logs longer and logs less; both stages alarm on the same thresholds, so an
 * alarm seen in dev means what it would mean in prod.
 */
const stageDefaults = {
  dev: { logLevel: 'DEBUG', logRetentionDays: RetentionDays.ONE_WEEK, apiRateLimit: 50, apiBurstLimit: 100 },
  prod: {
    logLevel: 'INFO',
    logRetentionDays: RetentionDays.THREE_MONTHS,
    apiRateLimit: 500,
    apiBurstLimit: 1000,
  },
} as const satisfies Record<
  StageName,
  { logLevel: string; logRetentionDays: RetentionDays; apiRateLimit: number; apiBurstLimit: number }
>;

const alarmDefaults = { iteratorAgeSeconds: 300, relayLagP99Ms: 30_000, api5xxRatePercent: 1 };

/** Unset and empty context values alike mean "use the default". */
const given = (value: unknown): unknown =>
  value === undefined || value === null || value === '' ? undefined : value;

/** `-c key=a,b` arrives as one string; cdk.json may hold an array. */
const list = (value: unknown): unknown =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean)
    : value;

export const readStageConfig = (context: (key: string) => unknown): StageConfig => {
  const stage = given(context('stage')) ?? 'dev';
  const defaults = stageDefaults[stage as StageName] ?? stageDefaults.dev;
  const raw = {
    stage,
    metricsNamespace: given(context('metricsNamespace')) ?? 'DynamoDbOutbox',
    alarmEmail: given(context('alarmEmail')),
    logLevel: given(context('logLevel')) ?? defaults.logLevel,
    logRetentionDays: given(context('logRetentionDays')) ?? defaults.logRetentionDays,
    encryption: given(context('encryption')) ?? 'aws-owned',
    kmsKeyArn: given(context('kmsKeyArn')),
    api: {
      auth: given(context('apiAuth')) ?? 'iam',
      jwtIssuer: given(context('apiJwtIssuer')),
      jwtAudience: list(given(context('apiJwtAudience'))),
      rateLimit: given(context('apiRateLimit')) ?? defaults.apiRateLimit,
      burstLimit: given(context('apiBurstLimit')) ?? defaults.apiBurstLimit,
    },
    outbox: {
      eventSource: given(context('eventSource')) ?? 'orders',
      deliveryTracking: given(context('deliveryTracking')) ?? true,
      retentionDays: given(context('outboxRetentionDays')) ?? 7,
      archiveRetentionDays: given(context('archiveRetentionDays')) ?? 30,
      reconcilerThresholdMinutes: given(context('reconcilerThresholdMinutes')) ?? 15,
      reconcilerIntervalMinutes: given(context('reconcilerIntervalMinutes')) ?? 5,
    },
    alarms: {
      iteratorAgeSeconds: given(context('iteratorAgeAlarmSeconds')) ?? alarmDefaults.iteratorAgeSeconds,
      relayLagP99Ms: given(context('relayLagP99AlarmMs')) ?? alarmDefaults.relayLagP99Ms,
      api5xxRatePercent: given(context('api5xxRateAlarmPercent')) ?? alarmDefaults.api5xxRatePercent,
    },
  };
  const parsed = stageConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid CDK context: ${problems}`);
  }
  return parsed.data;
};
