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

/**
 * Context values given with `-c key=value` arrive as strings; cdk.json may hold numbers. Every
 * check's message says what the setting accepts: it follows the context key in the error.
 */
const positiveNumber = z.coerce
  .number({ error: 'must be a positive number' })
  .positive('must be a positive number');
const wholeNumber = (min: number, max: number) => {
  const accepts = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error: accepts }).int(accepts).min(min, accepts).max(max, accepts);
};
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.join(', ')}` });

/** Stage throttling of the orders API: steady requests per second, and the burst above it. */
const apiThrottling = {
  rateLimit: positiveNumber,
  burstLimit: z.coerce
    .number({ error: 'must be a positive whole number' })
    .int('must be a positive whole number')
    .positive('must be a positive whole number'),
};

const stageConfigSchema = z
  .object({
    stage: oneOf(stages),
    /** CloudWatch namespace of the functions' EMF metrics; the alarms and dashboard read it. */
    metricsNamespace: z.string().regex(/^[A-Za-z0-9._/#:-]{1,255}$/, 'must be a CloudWatch namespace'),
    /** Alarm notifications go to this address (an SNS e-mail subscription, confirmed by its owner). */
    alarmEmail: z.email('must be an e-mail address').optional(),
    /** Powertools log level of every function. */
    logLevel: oneOf(logLevels),
    /** CloudWatch Logs retention of every function's log group, in days (a value CloudWatch accepts). */
    logRetentionDays: z.coerce
      .number({ error: `must be one of ${retentionValues.join(', ')}` })
      .refine((v): v is RetentionDays => (retentionValues as number[]).includes(v), {
        message: `must be one of ${retentionValues.join(', ')}`,
      }),
    /**
     * Encryption at rest of the table, queues and bus: AWS owned keys (no cost, no key policy to
     * manage) or a customer managed KMS key (auditable in CloudTrail, revocable, $1/month).
     */
    encryption: oneOf(['aws-owned', 'customer-managed']),
    /** With `customer-managed`: use this existing key instead of creating one. */
    kmsKeyArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]+$/, 'must be a KMS key ARN')
      .optional(),
    /** Who may call the deployed orders API. There is no unauthenticated option (only offline is open). */
    api: z.discriminatedUnion(
      'auth',
      [
        z.object({ auth: z.literal('iam'), ...apiThrottling }),
        z.object({
          auth: z.literal('jwt'),
          jwtIssuer: z
            .string({ error: 'is required with apiAuth=jwt' })
            .regex(/^https:\/\/\S+$/, 'must be an https:// URL'),
          jwtAudience: z
            .array(z.string().min(1, 'must not hold an empty audience'), {
              error: 'is required with apiAuth=jwt',
            })
            .min(1, 'is required with apiAuth=jwt'),
          ...apiThrottling,
        }),
      ],
      { error: 'must be one of iam, jwt' },
    ),
    outbox: z.object({
      /** `source` of every published event (EventBridge: 1 to 256 characters, never `aws.`-prefixed). */
      eventSource: z
        .string({ error: 'must be 1 to 256 characters' })
        .min(1, 'must be 1 to 256 characters')
        .max(256, 'must be 1 to 256 characters')
        .refine((v) => !v.startsWith('aws.'), 'must not start with "aws." (reserved)'),
      /**
       * The relay writes a receipt per invocation, outbox items carry a time index entry, and the
       * reconciler republishes stragglers. Off: no index entry, no receipt, no reconciler.
       */
      deliveryTracking: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], {
        error: 'must be true or false',
      }),
      /** Days a published outbox item stays in the table before TTL deletes it. */
      retentionDays: wholeNumber(1, 3650),
      /** Days the bus archive keeps every published event for replay; 0 keeps them forever. */
      archiveRetentionDays: wholeNumber(0, 36_500),
      /** With delivery tracking: republish events still unpublished this many minutes after they occurred. */
      reconcilerThresholdMinutes: wholeNumber(1, 24 * 60),
      /** With delivery tracking: minutes between two reconciler runs. */
      reconcilerIntervalMinutes: wholeNumber(3, 24 * 60),
    }),
    saga: z.object({
      /** Minutes an order may wait for inventory's answer before it is rejected with reason `timeout`. */
      deadlineMinutes: wholeNumber(1, 24 * 60),
    }),
    alarms: z.object({
      /** Oldest stream record the relay has not finished, in seconds. */
      iteratorAgeSeconds: positiveNumber,
      /** p99 of publish time minus occurredAt, in milliseconds. */
      relayLagP99Ms: positiveNumber,
      /** Share of API requests answered with a 5xx, in percent. */
      api5xxRatePercent: z.coerce
        .number({ error: 'must be a percentage above 0, at most 100' })
        .positive('must be a percentage above 0, at most 100')
        .max(100, 'must be a percentage above 0, at most 100'),
    }),
  })
  .refine((c) => c.kmsKeyArn === undefined || c.encryption === 'customer-managed', {
    message: 'needs encryption=customer-managed',
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

/**
 * The context key (`-c key=value`, or cdk.json) behind each setting, by its path in StageConfig:
 * what the config is read from, and what an error names, since that is what the user typed.
 */
const contextKeys = {
  stage: 'stage',
  metricsNamespace: 'metricsNamespace',
  alarmEmail: 'alarmEmail',
  logLevel: 'logLevel',
  logRetentionDays: 'logRetentionDays',
  encryption: 'encryption',
  kmsKeyArn: 'kmsKeyArn',
  'api.auth': 'apiAuth',
  'api.jwtIssuer': 'apiJwtIssuer',
  'api.jwtAudience': 'apiJwtAudience',
  'api.rateLimit': 'apiRateLimit',
  'api.burstLimit': 'apiBurstLimit',
  'outbox.eventSource': 'eventSource',
  'outbox.deliveryTracking': 'deliveryTracking',
  'outbox.retentionDays': 'outboxRetentionDays',
  'outbox.archiveRetentionDays': 'archiveRetentionDays',
  'outbox.reconcilerThresholdMinutes': 'reconcilerThresholdMinutes',
  'outbox.reconcilerIntervalMinutes': 'reconcilerIntervalMinutes',
  'saga.deadlineMinutes': 'orderDeadlineMinutes',
  'alarms.iteratorAgeSeconds': 'iteratorAgeAlarmSeconds',
  'alarms.relayLagP99Ms': 'relayLagP99AlarmMs',
  'alarms.api5xxRatePercent': 'api5xxRateAlarmPercent',
} as const;
type SettingPath = keyof typeof contextKeys;

/** Every context key the app reads. */
export const CONTEXT_KEYS: readonly string[] = Object.values(contextKeys);

/** A context value the app cannot use: its message is one line for the person who typed it. */
export class InvalidContextError extends Error {
  override readonly name = 'InvalidContextError';
}

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

/** The setting an issue is about: its path, or the nearest setting above it (a list element). */
const settingOf = (path: readonly PropertyKey[]): SettingPath | undefined => {
  for (let end = path.length; end > 0; end--) {
    const candidate = path.slice(0, end).join('.');
    if (candidate in contextKeys) return candidate as SettingPath;
  }
  return undefined;
};

const shown = (value: unknown): string => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

const either = (items: readonly string[]): string =>
  items.length > 1 ? `${items.slice(0, -1).join(', ')} or ${items.at(-1)}` : (items[0] ?? '');

/**
 * Context keys that look like a setting of this app (plain camelCase, unlike CDK's own
 * `@aws-cdk/…` and `aws:cdk:…` keys) but are not one: a typo that would otherwise be ignored
 * silently, leaving the default in place.
 */
const checkKeys = (keys: readonly string[]): void => {
  const unknown = keys.filter((key) => /^[a-z][A-Za-z0-9]*$/.test(key) && !CONTEXT_KEYS.includes(key));
  if (unknown.length === 0) return;
  const hints = unknown.map((key) => {
    const near = CONTEXT_KEYS.filter(
      (known) =>
        known.toLowerCase().includes(key.toLowerCase()) || key.toLowerCase().includes(known.toLowerCase()),
    );
    return near.length > 0 ? `${key} (did you mean ${either(near)}?)` : key;
  });
  throw new InvalidContextError(
    `Unknown CDK context key${unknown.length > 1 ? 's' : ''}: ${hints.join(', ')}. Known keys: ${CONTEXT_KEYS.join(', ')}`,
  );
};

/**
 * The stage configuration from CDK context. `keys`, when given, are all the context keys set
 * (`app.node.getAllContext()`), so that a misspelt one fails instead of being ignored.
 * Throws InvalidContextError naming the context key, the value given and what it accepts.
 */
export const readStageConfig = (
  context: (key: string) => unknown,
  keys: readonly string[] = [],
): StageConfig => {
  checkKeys(keys);
  const setting = (path: SettingPath): unknown => given(context(contextKeys[path]));
  const stage = setting('stage') ?? 'dev';
  const defaults = stageDefaults[stage as StageName] ?? stageDefaults.dev;
  const raw = {
    stage,
    metricsNamespace: setting('metricsNamespace') ?? 'DynamoDbOutbox',
    alarmEmail: setting('alarmEmail'),
    logLevel: setting('logLevel') ?? defaults.logLevel,
    logRetentionDays: setting('logRetentionDays') ?? defaults.logRetentionDays,
    encryption: setting('encryption') ?? 'aws-owned',
    kmsKeyArn: setting('kmsKeyArn'),
    api: {
      auth: setting('api.auth') ?? 'iam',
      jwtIssuer: setting('api.jwtIssuer'),
      jwtAudience: list(setting('api.jwtAudience')),
      rateLimit: setting('api.rateLimit') ?? defaults.apiRateLimit,
      burstLimit: setting('api.burstLimit') ?? defaults.apiBurstLimit,
    },
    outbox: {
      eventSource: setting('outbox.eventSource') ?? 'orders',
      deliveryTracking: setting('outbox.deliveryTracking') ?? true,
      retentionDays: setting('outbox.retentionDays') ?? 7,
      archiveRetentionDays: setting('outbox.archiveRetentionDays') ?? 30,
      reconcilerThresholdMinutes: setting('outbox.reconcilerThresholdMinutes') ?? 15,
      reconcilerIntervalMinutes: setting('outbox.reconcilerIntervalMinutes') ?? 5,
    },
    saga: {
      deadlineMinutes: setting('saga.deadlineMinutes') ?? 5,
    },
    alarms: {
      iteratorAgeSeconds: setting('alarms.iteratorAgeSeconds') ?? alarmDefaults.iteratorAgeSeconds,
      relayLagP99Ms: setting('alarms.relayLagP99Ms') ?? alarmDefaults.relayLagP99Ms,
      api5xxRatePercent: setting('alarms.api5xxRatePercent') ?? alarmDefaults.api5xxRatePercent,
    },
  };
  const parsed = stageConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const path = settingOf(issue.path);
      if (path === undefined) return issue.message;
      const key = contextKeys[path];
      const value = setting(path);
      return `${key} ${issue.message}${value === undefined ? '' : ` (got ${shown(value)})`}`;
    });
    throw new InvalidContextError(`Invalid CDK context: ${[...new Set(problems)].join('; ')}`);
  }
  return parsed.data;
};
