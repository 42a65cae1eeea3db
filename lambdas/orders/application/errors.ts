/** Use-case outcomes that are the caller's business, each mapped to one HTTP status by the handler. */
export class OrderNotFoundError extends Error {
  constructor(readonly orderId: string) {
    super(`Order ${orderId} does not exist`);
    this.name = 'OrderNotFoundError';
  }
}

/** The Idempotency-Key was already used with a different request body. */
export class IdempotencyKeyReusedError extends Error {
  constructor() {
    super('This Idempotency-Key was already used with a different request');
    this.name = 'IdempotencyKeyReusedError';
  }
}

/** A request with the same Idempotency-Key is being committed right now; retrying shortly gets its result. */
export class IdempotencyKeyInUseError extends Error {
  constructor(options?: ErrorOptions) {
    super('A request with this Idempotency-Key is in progress', options);
    this.name = 'IdempotencyKeyInUseError';
  }
}

/** The order changed between our read and our write (another request won the race). */
export class OrderConflictError extends Error {
  constructor(
    readonly orderId: string,
    options?: ErrorOptions,
  ) {
    super(`Order ${orderId} was changed by another request`, options);
    this.name = 'OrderConflictError';
  }
}
