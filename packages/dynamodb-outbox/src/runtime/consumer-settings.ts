import { defineContract, requiredName } from './env-contract.js';
import * as z from './zod.js';

/** What an outbox consumer needs: its idempotency table and how long to remember an eventId. */
export const consumerSettings = defineContract(
  'OUTBOX_CONSUMER_SETTINGS',
  z.object({
    idempotencyTableName: requiredName('idempotencyTableName'),
    idempotencyTtlSeconds: z
      .number()
      .check(z.int(), z.minimum(1, 'idempotencyTtlSeconds must be a positive number of seconds')),
  }),
);

export type ConsumerSettings = z.output<typeof consumerSettings.schema>;
