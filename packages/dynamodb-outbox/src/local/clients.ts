/**
 * How SDK clients reach the offline runtime (DynamoDB Local, the local EventBridge endpoint, the
 * SQS stand-in), and the names of the queues it creates: shared by the runtime, the outbox CLI
 * and the tests, so they all find the same things.
 */

/**
 * The local endpoints accept any credentials (DynamoDB Local runs with -sharedDb, and wants only
 * letters and digits in the access key id); fixed ones keep the SDK from looking for real ones.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

export const LOCAL_REGION = 'us-east-1';

/** Client configuration for a local endpoint: `new DynamoDBClient(localClientConfig(url))`. */
export const localClientConfig = (endpoint: string, region: string = LOCAL_REGION) => ({
  endpoint,
  region,
  credentials: LOCAL_CREDENTIALS,
});
