import { createServer } from 'node:net';
import { closeServer, listen } from './http.js';

/**
 * Where `dynamodb-outbox local` listens unless told otherwise (PORT, DYNAMODB_PORT,
 * EVENTBRIDGE_PORT, SQS_PORT, LAMBDA_PORT): the one description the runtime and the CLI read.
 */
export const DEFAULT_PORTS = {
  api: 3000,
  dynamoDb: 8000,
  eventBridge: 4010,
  sqs: 9324,
  lambda: 3001,
} as const;

/** Resolve `port` to a free port: 0 picks one, anything else must not be taken. */
export const claimPort = async (port: number): Promise<number> => {
  const probe = createServer();
  probe.unref();
  // No host: the wildcard address collides with a listener on any interface.
  const bound = await listen(probe, port);
  await closeServer(probe);
  return bound;
};
