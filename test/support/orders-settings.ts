import type { OrdersSettings } from '../../lambdas/orders/config';
import { ordersOutboxLayout } from '../../packages/dynamodb-outbox/test/support/sample-table';

/** The orders API's settings for a test table, as the stack would write them (`grantWrite`). */
export const testOrdersSettings = (
  tableName: string,
  outbox: { readonly deliveryTracking?: boolean; readonly retentionDays?: number } = {},
): OrdersSettings => ({
  tableName,
  outbox: {
    tableName,
    layout: ordersOutboxLayout,
    deliveryTracking: outbox.deliveryTracking ?? true,
    retentionDays: outbox.retentionDays ?? 7,
  },
});
