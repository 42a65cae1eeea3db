import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus, Rule } from 'aws-cdk-lib/aws-events';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  OutboxOutputName,
  OutboxOutputs,
  type OutboxOutputsProps,
  QUEUE_URL_OUTPUT_SUFFIX,
  RULE_ARN_OUTPUT_SUFFIX,
} from '../../../packages/dynamodb-outbox/src/cdk/outputs';
import { TransactionalOutbox } from '../../../packages/dynamodb-outbox/src/cdk/transactional-outbox';
import {
  QUEUE_OUTPUT_SUFFIX,
  RULE_OUTPUT_SUFFIX,
  StackOutput,
} from '../../../packages/dynamodb-outbox/src/cli/target';
import { TIME_ORDERED_TABLE_LAYOUT } from '../../../packages/dynamodb-outbox/src/runtime/layout';
import { arnOf, refOf, removeTestApps, testApp } from '../support';

const build = (queues: OutboxOutputsProps['queues'] = {}) => {
  const stack = new Stack(testApp(), 'OutputsTest');
  const table = new TableV2(stack, 'Table', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
  const eventBus = new EventBus(stack, 'Bus');
  const outbox = new TransactionalOutbox(stack, 'Outbox', {
    table,
    eventBus,
    source: 'shipments',
    retentionDays: 3,
  });
  const deadLetters = new Queue(stack, 'DeadLetters');
  const archive = eventBus.archive('Archive', { eventPattern: { source: ['shipments'] } });
  const rule = new Rule(stack, 'ConsumerRule', { eventBus, eventPattern: { source: ['shipments'] } });
  // Nested one level down, as in a stack: the output keys must not carry the construct path.
  new OutboxOutputs(stack, 'Cli', {
    outbox,
    queues: {
      ConsumerDeadLetter: { queue: deadLetters, description: 'Events the consumer could not take' },
      ...queues,
    },
    archive,
    rules: { Consumer: rule },
  });
  return { stack, template: Template.fromStack(stack), outbox, eventBus, deadLetters, archive, rule };
};

afterAll(removeTestApps);

describe('OutboxOutputs', () => {
  let built: ReturnType<typeof build>;

  beforeAll(() => {
    built = build();
  }, 60_000);

  it("outputs the outbox's table, layout, bus, source, retention, queues, archive and rules under fixed keys", () => {
    // Prepare
    const { template, outbox, eventBus, deadLetters, archive, rule } = built;

    // Act
    const outputs = template.findOutputs('*');

    // Assess
    expect(Object.fromEntries(Object.entries(outputs).map(([key, o]) => [key, o.Value]))).toEqual({
      OutboxTableName: refOf(outbox.table),
      OutboxLayout: JSON.stringify(TIME_ORDERED_TABLE_LAYOUT),
      EventBusName: refOf(eventBus),
      EventBusArn: arnOf(eventBus),
      ArchiveArn: arnOf(archive),
      ConsumerRuleArn: arnOf(rule),
      EventSource: 'shipments',
      OutboxRetentionDays: '3',
      PoisonQueueUrl: refOf(outbox.poisonQueue),
      RelayFailureBucketName: refOf(outbox.failureBucket),
      ConsumerDeadLetterQueueUrl: refOf(deadLetters),
    });
    expect(outputs.ConsumerDeadLetterQueueUrl?.Description).toBe('Events the consumer could not take');
  });

  it('uses the keys the outbox CLI reads', () => {
    expect(OutboxOutputName).toEqual(StackOutput);
    expect(QUEUE_URL_OUTPUT_SUFFIX).toBe(QUEUE_OUTPUT_SUFFIX);
    expect(RULE_ARN_OUTPUT_SUFFIX).toBe(RULE_OUTPUT_SUFFIX);
  });

  it('rejects a queue name that is not a plain identifier or that collides with another output', () => {
    const queue = (stack: Stack) => ({ queue: new Queue(stack, 'Q'), description: 'q' });
    const named = (name: string) => () => {
      const stack = new Stack(testApp(), 'Bad');
      const table = new TableV2(stack, 'T', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
      const outbox = new TransactionalOutbox(stack, 'Outbox', { table, eventBus: new EventBus(stack, 'B') });
      new OutboxOutputs(stack, 'Cli', { outbox, queues: { [name]: queue(stack) } });
    };
    expect(named('inventory-dlq')).toThrow(/alphanumeric/);
    expect(named('Poison')).toThrow(/collides with the output PoisonQueueUrl/);
  });
});
