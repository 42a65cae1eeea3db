import { CfnOutput } from 'aws-cdk-lib';
import type { Archive, IRule } from 'aws-cdk-lib/aws-events';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { TransactionalOutbox } from './transactional-outbox.js';

/**
 * Stack output keys that `npm run outbox -- status|redrive|replay --stack <name>` reads (cli/target.ts).
 * They are a contract with the CLI, so they are the outputs' exact logical ids, never prefixed
 * with this construct's path.
 */
export const OutboxOutputName = {
  TableName: 'OutboxTableName',
  EventBusName: 'EventBusName',
  EventBusArn: 'EventBusArn',
  ArchiveArn: 'ArchiveArn',
  EventSource: 'EventSource',
  RetentionDays: 'OutboxRetentionDays',
  PoisonQueueUrl: 'PoisonQueueUrl',
  FailureBucketName: 'RelayFailureBucketName',
  Layout: 'OutboxLayout',
} as const;

/** The CLI watches every output whose key ends with this: `<name>QueueUrl`. */
export const QUEUE_URL_OUTPUT_SUFFIX = 'QueueUrl';
/** `replay --rule <name>` finds the rule in the output `<name>RuleArn`. */
export const RULE_ARN_OUTPUT_SUFFIX = 'RuleArn';

export interface WatchedQueue {
  /** The queue whose URL the output carries, for the CLI. */
  readonly queue: IQueue;
  /** What the queue holds, for the output's description. */
  readonly description: string;
}

export interface OutboxOutputsProps {
  /** The outbox whose table, layout, bus, source, retention and queues the CLI needs. */
  readonly outbox: TransactionalOutbox;
  /**
   * Further queues `status` reports the depth of, by name: each becomes the output
   * `<name>QueueUrl`. Names are alphanumeric and start with a letter.
   * @default none
   */
  readonly queues?: Readonly<Record<string, WatchedQueue>>;
  /**
   * The archive of the outbox's bus, for `replay`: the output `ArchiveArn`.
   * @default no archive output (`replay` then needs --archive-arn)
   */
  readonly archive?: Pick<Archive, 'archiveArn'>;
  /**
   * Rules `replay --rule <name>` can replay to alone, by name: each becomes the output
   * `<name>RuleArn`. Names are alphanumeric and start with a letter.
   * @default none (`replay --rule` then looks the rule up on the bus by its name)
   */
  readonly rules?: Readonly<Record<string, IRule>>;
}

/**
 * What an operator's tooling needs to find the outbox of a deployed stack: the table, the bus,
 * the event source, the retention and the queue URLs, as stack outputs under fixed keys.
 */
export class OutboxOutputs extends Construct {
  /** Every output, by its key. */
  public readonly outputs: Readonly<Record<string, CfnOutput>>;

  constructor(scope: Construct, id: string, props: OutboxOutputsProps) {
    super(scope, id);
    const { outbox } = props;
    const values: Record<string, { value: string; description: string }> = {
      [OutboxOutputName.TableName]: {
        value: outbox.table.tableName,
        description: 'Table holding the outbox items',
      },
      [OutboxOutputName.Layout]: {
        value: JSON.stringify(outbox.layout),
        description: 'How the outbox items are keyed in the table (JSON)',
      },
      [OutboxOutputName.EventBusName]: {
        value: outbox.eventBus.eventBusName,
        description: 'Bus the outbox events are published to',
      },
      [OutboxOutputName.EventBusArn]: {
        value: outbox.eventBus.eventBusArn,
        description: 'Bus the outbox events are published to (ARN), the destination of a replay',
      },
      [OutboxOutputName.EventSource]: {
        value: outbox.source,
        description: 'Source of the published events',
      },
      [OutboxOutputName.RetentionDays]: {
        value: String(outbox.retentionDays),
        description: 'Days a published outbox item is kept before TTL',
      },
      [OutboxOutputName.PoisonQueueUrl]: {
        value: outbox.poisonQueue.queueUrl,
        description: 'Events that can never be published as they are',
      },
      [OutboxOutputName.FailureBucketName]: {
        value: outbox.failureBucket.bucketName,
        description:
          'Stream batches the relay mapping gave up on, with their records (outbox redrive --from-failures)',
      },
    };
    if (props.archive)
      values[OutboxOutputName.ArchiveArn] = {
        value: props.archive.archiveArn,
        description: 'Archive of the published events, the source of a replay',
      };
    const add = (kind: string, key: string, name: string, output: { value: string; description: string }) => {
      if (!/^[A-Za-z][A-Za-z0-9]*$/.test(name))
        throw new Error(`OutboxOutputs: ${kind} name "${name}" must be alphanumeric and start with a letter`);
      if (key in values)
        throw new Error(`OutboxOutputs: ${kind} name "${name}" collides with the output ${key}`);
      values[key] = output;
    };
    for (const [name, { queue, description }] of Object.entries(props.queues ?? {}))
      add('queue', `${name}${QUEUE_URL_OUTPUT_SUFFIX}`, name, { value: queue.queueUrl, description });
    for (const [name, rule] of Object.entries(props.rules ?? {}))
      add('rule', `${name}${RULE_ARN_OUTPUT_SUFFIX}`, name, {
        value: rule.ruleArn,
        description: `Rule ${name}: replay --rule ${name} replays to it alone`,
      });

    const outputs: Record<string, CfnOutput> = {};
    for (const [key, output] of Object.entries(values)) {
      outputs[key] = new CfnOutput(this, key, output);
      outputs[key].overrideLogicalId(key);
    }
    this.outputs = outputs;
  }
}
