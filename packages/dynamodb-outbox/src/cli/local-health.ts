import { connect } from 'node:net';
import { UsageError } from './usage-error.js';

/** Where the CLI looks for the offline runtime of `dynamodb-outbox local`. */
export interface LocalEndpoints {
  readonly dynamodb: string;
  readonly eventbridge: string;
  readonly sqs: string;
}

/** Whether anything accepts a TCP connection at `endpoint` within `timeoutMs`. */
export const answers = (endpoint: string, timeoutMs = 1000): Promise<boolean> =>
  new Promise((resolve) => {
    const url = new URL(endpoint);
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const socket = connect({ host: url.hostname, port, timeout: timeoutMs });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });

/** A failure to reach DynamoDB Local, as opposed to an answer from it. */
export const isConnectionFailure = (error: unknown): boolean => {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: string }).code ?? '';
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT'].includes(code) ||
    error.name === 'TimeoutError' ||
    /ECONNREFUSED|ECONNRESET|socket hang up/.test(error.message)
  );
};

/**
 * DynamoDB Local did not answer: tell a stack that is down (nothing answers on the runtime's
 * endpoints) from a database that is down (the runtime answers, DynamoDB Local does not).
 */
export const diagnoseLocal = async (endpoints: LocalEndpoints, error: unknown): Promise<UsageError> => {
  const detail = error instanceof Error ? error.message || error.name : String(error);
  const others = [
    { name: 'EventBridge', url: endpoints.eventbridge },
    { name: 'SQS', url: endpoints.sqs },
  ];
  const answering = (
    await Promise.all(others.map(async (other) => ((await answers(other.url)) ? other : undefined)))
  ).filter((other) => other !== undefined);
  if (answering.length === 0)
    return new UsageError(
      `The local stack is down: nothing answers at DynamoDB ${endpoints.dynamodb}, ` +
        `EventBridge ${endpoints.eventbridge} or SQS ${endpoints.sqs} (${detail}). ` +
        'Start it with `dynamodb-outbox local` (with the same DYNAMODB_PORT, EVENTBRIDGE_PORT and SQS_PORT if you moved them); ' +
        'for AWS, pass --stack <name> or --table <name>.',
    );
  return new UsageError(
    `The local database is down: the runtime answers (${answering.map((o) => `${o.name} ${o.url}`).join(', ')}), ` +
      `but DynamoDB Local at ${endpoints.dynamodb} does not (${detail}). ` +
      'Restart the runtime (stop it, then `dynamodb-outbox local`), or, if it runs DynamoDB Local on another port, ' +
      'set DYNAMODB_PORT or DYNAMODB_ENDPOINT to it.',
  );
};
