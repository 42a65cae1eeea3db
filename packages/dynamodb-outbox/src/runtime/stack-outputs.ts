/**
 * The stack outputs the `dynamodb-outbox` CLI reads, on AWS (`--stack`) and offline (the outputs
 * file of `dynamodb-outbox local`): `TransactionalOutbox` and `OutboxConsumer` emit them, the CLI
 * finds each outbox by them. One contract, read by both sides; pure, so the CLI never loads the CDK.
 *
 * An outbox's outputs are keyed `<prefix><name>`, the prefix being its construct id (letters and
 * digits only), so that two outboxes in one stack keep apart and `--outbox <prefix>` picks one:
 * the usual id `Outbox` gives `OutboxTableName`, `OutboxLayout`, `OutboxEventSource`, ...
 */
export const OutboxOutput = {
  TableName: 'TableName',
  /** The outbox layout as JSON: also what marks a prefix as an outbox's. */
  Layout: 'Layout',
  EventBusName: 'EventBusName',
  EventBusArn: 'EventBusArn',
  ArchiveArn: 'ArchiveArn',
  EventSource: 'EventSource',
  RetentionDays: 'RetentionDays',
  PoisonQueueUrl: 'PoisonQueueUrl',
  FailureBucketName: 'FailureBucketName',
} as const;

export type OutboxOutputName = (typeof OutboxOutput)[keyof typeof OutboxOutput];

/** Every output whose key ends with this is a queue `status` reports: poison, dead-letter queues. */
export const QUEUE_URL_OUTPUT_SUFFIX = 'QueueUrl';
/** Every output whose key ends with this is a rule `replay --rule <name>` can pick. */
export const RULE_ARN_OUTPUT_SUFFIX = 'RuleArn';

/**
 * The output key prefix of a construct id or a subscription name, in PascalCase (`inventory` →
 * `Inventory`, `order-saga` → `OrderSaga`), since CloudFormation logical ids are alphanumeric.
 */
export const outputPrefix = (name: string): string => {
  const prefix = name
    .split(/[^A-Za-z0-9]+/)
    .map((word) => `${word.charAt(0).toUpperCase()}${word.slice(1)}`)
    .join('');
  if (!/^[A-Za-z]/.test(prefix))
    throw new Error(`"${name}" cannot prefix stack outputs: it needs a letter first`);
  return prefix;
};

export const outboxOutputKey = (prefix: string, name: OutboxOutputName): string => `${prefix}${name}`;

/**
 * The prefixes of the outboxes `outputs` describe: every `<prefix>Layout` output whose value is a
 * JSON object with a `kind` (an outbox layout), so that an unrelated `...Layout` output is not one.
 */
export const outboxPrefixes = (outputs: Readonly<Record<string, string>>): string[] =>
  Object.entries(outputs)
    .filter(([key, value]) => key.endsWith(OutboxOutput.Layout) && isLayoutJson(value))
    .map(([key]) => key.slice(0, -OutboxOutput.Layout.length))
    .sort();

const isLayoutJson = (value: string): boolean => {
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'object' && parsed !== null && 'kind' in parsed;
  } catch {
    return false;
  }
};
