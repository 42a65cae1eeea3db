import type {
  AttributeValue,
  ConsumedCapacity,
  DynamoDBClient,
  TransactWriteItemsCommandInput,
} from '@aws-sdk/client-dynamodb';

/*
 * SDK middleware that lets the benchmark see what a handler asks of DynamoDB without touching the
 * handler: the handler gets a client, the client carries these hooks.
 */

type TransactItems = NonNullable<TransactWriteItemsCommandInput['TransactItems']>;

/** The items of the Puts in a transaction, by position. */
export const putItems = (input: TransactWriteItemsCommandInput): Array<Record<string, AttributeValue>> =>
  (input.TransactItems ?? []).flatMap((item) => (item.Put?.Item ? [item.Put.Item] : []));

/** `detail.eventId` values the transaction writes: the outbox items among its Puts. */
export const outboxEventIds = (input: TransactWriteItemsCommandInput): string[] =>
  putItems(input).flatMap((item) => {
    // Same-table items sort under `SK`, a dedicated table's under `sk`.
    const sk = item.SK?.S ?? item.sk?.S;
    const eventId = item.eventId?.S;
    return sk?.startsWith('OUTBOX#') && eventId ? [eventId] : [];
  });

/**
 * Make `client` record every TransactWriteItems request and answer it with success, without
 * sending it: a handler run against it yields exactly the transactions it would commit.
 */
export const captureTransactions = (client: DynamoDBClient): TransactWriteItemsCommandInput[] => {
  const captured: TransactWriteItemsCommandInput[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'TransactWriteItemsCommand') return next(args);
      captured.push(structuredClone(args.input as TransactWriteItemsCommandInput));
      return { output: { $metadata: {} }, response: {} } as Awaited<ReturnType<typeof next>>;
    },
    { step: 'build', name: 'benchCaptureTransactions', priority: 'high' },
  );
  return captured;
};

/** Call `onCommit` with the transaction and the time (performance.now()) its success arrived. */
export const onTransactionCommitted = (
  client: DynamoDBClient,
  onCommit: (input: TransactWriteItemsCommandInput, at: number) => void,
): void => {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === 'TransactWriteItemsCommand')
        onCommit(args.input as TransactWriteItemsCommandInput, performance.now());
      return result;
    },
    { step: 'build', name: 'benchCommitTime', priority: 'high' },
  );
};

export interface RequestLog {
  /** Requests by SDK command name. */
  readonly requests: Map<string, number>;
  /** ConsumedCapacity of every response that returned one. */
  readonly consumed: ConsumedCapacity[];
  readonly transactions: TransactItems[];
}

/**
 * Count the requests `client` sends and ask DynamoDB to report the capacity each consumed
 * (ReturnConsumedCapacity INDEXES: table and index units). The request is otherwise unchanged.
 */
export const logRequests = (client: DynamoDBClient): RequestLog => {
  const log: RequestLog = { requests: new Map(), consumed: [], transactions: [] };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? 'unknown';
      log.requests.set(name, (log.requests.get(name) ?? 0) + 1);
      // Before serialization, so the request carries it; a top-level parameter, untouched by marshalling.
      (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = 'INDEXES';
      const result = await next(args);
      const consumed = (result.output as { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] })
        .ConsumedCapacity;
      if (Array.isArray(consumed)) log.consumed.push(...consumed);
      else if (consumed) log.consumed.push(consumed);
      return result;
    },
    { step: 'initialize', name: 'benchLogRequests', priority: 'high' },
  );
  client.middlewareStack.add(
    (next) => async (args) => {
      // By the build step a document client has marshalled the items: record them as DynamoDB sees them.
      const items = (args.input as { TransactItems?: TransactItems }).TransactItems;
      if (items) log.transactions.push(structuredClone(items));
      return next(args);
    },
    { step: 'build', name: 'benchLogTransactions', priority: 'high' },
  );
  return log;
};
