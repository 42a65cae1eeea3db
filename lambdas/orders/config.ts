import * as z from 'zod';

/**
 * The orders API's configuration, read from an environment map: `process.env` in Lambda (set by
 * the CDK stack), a map built by the offline runtime locally. Invalid values fail at start-up.
 */
const envSchema = z.object({
  TABLE_NAME: z.string({ error: 'TABLE_NAME is required' }).min(1, 'TABLE_NAME is required'),
  OUTBOX_DELIVERY_TRACKING: z
    .enum(['true', 'false'], { error: 'OUTBOX_DELIVERY_TRACKING must be true or false' })
    .default('true'),
  OUTBOX_RETENTION_DAYS: z
    .string()
    .regex(/^\d+$/, 'OUTBOX_RETENTION_DAYS must be a whole number of days')
    .default('7')
    .transform(Number)
    .refine((days) => days >= 1 && days <= 3650, 'OUTBOX_RETENTION_DAYS must be between 1 and 3650'),
});

export interface OrdersConfig {
  readonly tableName: string;
  readonly deliveryTracking: boolean;
  readonly retentionDays: number;
}

export const readOrdersConfig = (
  env: Readonly<Record<string, string | undefined>> = process.env,
): OrdersConfig => {
  const blankAsUnset = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = envSchema.safeParse(blankAsUnset);
  if (!parsed.success)
    throw new Error(
      `Invalid orders API configuration: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
    );
  return {
    tableName: parsed.data.TABLE_NAME,
    deliveryTracking: parsed.data.OUTBOX_DELIVERY_TRACKING === 'true',
    retentionDays: parsed.data.OUTBOX_RETENTION_DAYS,
  };
};
