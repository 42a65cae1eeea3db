/** A problem the operator can fix: printed without a stack trace. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
