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

/** The orders table's name (TABLE_NAME), which every function of the orders service is given. */
export const readTableName = (env: EnvMap = process.env): string => {
  const tableName = tableNameSchema.safeParse(env.TABLE_NAME);
  if (!tableName.success)
    throw new InvalidSettingsError('Invalid orders service configuration: TABLE_NAME is required');
  return tableName.data;
};

export const readOrdersSettings = (env: EnvMap = process.env): OrdersSettings => ({
  tableName: readTableName(env),
  outbox: writerSettings.fromEnv(env),
});
