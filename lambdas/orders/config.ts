import {
  type EnvMap,
  InvalidSettingsError,
  type WriterSettings,
  writerSettings,
} from 'dynamodb-outbox/runtime';
import * as z from '../zod';

/**
 * The orders API's settings, read from an environment map: `process.env` in Lambda (set by the
 * CDK stack), the template's environment offline. TABLE_NAME is the orders table; the outbox
 * writer's settings come from the outbox construct's contract (`grantWrite`). Invalid values fail
 * at start-up.
 */
const tableNameSchema = z
  .string({ error: 'TABLE_NAME is required' })
  .check(z.minLength(1, 'TABLE_NAME is required'));

export interface OrdersSettings {
  readonly tableName: string;
  readonly outbox: WriterSettings;
}

export const readOrdersSettings = (env: EnvMap = process.env): OrdersSettings => {
  const tableName = tableNameSchema.safeParse(env.TABLE_NAME);
  if (!tableName.success)
    throw new InvalidSettingsError('Invalid orders API configuration: TABLE_NAME is required');
  return { tableName: tableName.data, outbox: writerSettings.fromEnv(env) };
};
