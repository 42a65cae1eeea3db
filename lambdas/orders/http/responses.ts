import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Order } from '../domain/order';

/** The one error body shape of the API: `{ "error": { "code", "message", "field"? } }`. */
export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly field?: string };
}

/** An error that is answered as is: the request was wrong, or the service says so on purpose. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const json = (
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

export const errorResponse = (error: HttpError): APIGatewayProxyStructuredResultV2 => {
  const body: ErrorBody = {
    error: {
      code: error.code,
      message: error.message,
      ...(error.field === undefined ? {} : { field: error.field }),
    },
  };
  return json(error.statusCode, body, error.headers);
};

/** The order as the API shows it: an explicit list of fields, so storage attributes never leak out. */
export const orderBody = (order: Order) => ({
  orderId: order.orderId,
  customerId: order.customerId,
  currency: order.currency,
  lines: order.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, unitPrice: l.unitPrice })),
  total: order.total,
  status: order.status,
  version: order.version,
  createdAt: order.createdAt,
  updatedAt: order.updatedAt,
  ...(order.cancelledAt === undefined ? {} : { cancelledAt: order.cancelledAt }),
  ...(order.cancelReason === undefined ? {} : { cancelReason: order.cancelReason }),
  ...(order.confirmedAt === undefined ? {} : { confirmedAt: order.confirmedAt }),
  ...(order.rejectedAt === undefined ? {} : { rejectedAt: order.rejectedAt }),
  ...(order.rejectionReason === undefined ? {} : { rejectionReason: order.rejectionReason }),
});
