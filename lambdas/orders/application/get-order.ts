import type { Order } from '../domain/order';
import { OrderNotFoundError } from './errors';
import type { OrderStore } from './ports';

export const getOrderUseCase = async (
  deps: { readonly store: OrderStore },
  orderId: string,
): Promise<Order> => {
  const order = await deps.store.get(orderId);
  if (order === undefined) throw new OrderNotFoundError(orderId);
  return order;
};
