/**
 * Template metadata key of a function's handler source, relative to the app's directory: the
 * offline runtime runs the function from it. Pure: the runtime reads it without loading the CDK.
 */
export const ENTRY_METADATA = 'dynamodb-outbox:entry';
