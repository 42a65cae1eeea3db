/**
 * The API's routes, as pure data: the CDK construct creates one HTTP API route per entry and the
 * offline server matches requests against the same list, so the two cannot disagree.
 */
export const ordersRoutes = [
  { method: 'POST', path: '/orders' },
  { method: 'GET', path: '/orders/{orderId}' },
  { method: 'POST', path: '/orders/{orderId}/cancel' },
] as const;

export type OrdersRoute = (typeof ordersRoutes)[number];
export type OrdersRouteKey = OrdersRoute extends infer R
  ? R extends OrdersRoute
    ? `${R['method']} ${R['path']}`
    : never
  : never;

export const routeKeyOf = (route: OrdersRoute): OrdersRouteKey =>
  `${route.method} ${route.path}` as OrdersRouteKey;
