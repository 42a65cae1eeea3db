import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { QUEUE_OUTPUT_SUFFIX, StackOutput } from '../../cli/target';
import {
  OutboxOutputName,
  OutboxOutputs,
  type OutboxOutputsProps,
  QUEUE_URL_OUTPUT_SUFFIX,
} from '../../lib/constructs/outbox-outputs';

const build = (queues: OutboxOutputsProps['queues'] = {}) => {
  const stack = new Stack(new App(), 'OutputsTest');
  const table = new TableV2(stack, 'Table', { partitionKey: { name: 'PK', type: AttributeType.STRING } });
  const eventBus = new EventBus(stack, 'Bus');
  const poisonQueue = new Queue(stack, 'Poison');
  const failureQueue = new Queue(stack, 'Failures');
  // Nested one level down, as in a stack: the output keys must not carry the construct path.
  new OutboxOutputs(stack, 'Cli', {
    table,
    eventBus,
    eventSource: 'orders',
    retentionDays: 7,
    poisonQueue,
    queues: { RelayFailure: { queue: failureQueue, description: 'Stream batches given up on' }, ...queues },
  });
  const ref = (construct: { node: { defaultChild?: unknown } }) => ({
    Ref: stack.getLogicalId(construct.node.defaultChild as never),
  });
  return { template: Template.fromStack(stack), ref, table, eventBus, poisonQueue, failureQueue };
};

describe('OutboxOutputs', () => {
  it('outputs the table, bus, source, retention and queues under fixed keys', () => {
    // Prepare
    const { template, ref, table, eventBus, poisonQueue, failureQueue } = build();

    // Act
    const outputs = template.findOutputs('*');

    // Assess
    expect(Object.fromEntries(Object.entries(outputs).map(([key, o]) => [key, o.Value]))).toEqual({
      OutboxTableName: ref(table),
      EventBusName: ref(eventBus),
      EventSource: 'orders',
      OutboxRetentionDays: '7',
      PoisonQueueUrl: ref(poisonQueue),
      RelayFailureQueueUrl: ref(failureQueue),
    });
    expect(outputs.RelayFailureQueueUrl?.Description).toBe('Stream batches given up on');
  });

  it('uses the keys the outbox CLI reads', () => {
    expect(OutboxOutputName).toEqual(StackOutput);
    expect(QUEUE_URL_OUTPUT_SUFFIX).toBe(QUEUE_OUTPUT_SUFFIX);
  });

  it('rejects a queue name that is not a plain identifier or that collides with another output', () => {
    const queue = (stack: Stack) => ({ queue: new Queue(stack, 'Q'), description: 'q' });
    const named = (name: string) => () => {
      const stack = new Stack(new App(), 'Bad');
      const table = new TableV2(stack, 'T', { partitionKey: { name: 'PK', type: AttributeType.STRING } });
      new OutboxOutputs(stack, 'Cli', {
        table,
        eventBus: new EventBus(stack, 'B'),
        eventSource: 'orders',
        retentionDays: 7,
        poisonQueue: new Queue(stack, 'P'),
        queues: { [name]: queue(stack) },
      });
    };
    expect(named('inventory-dlq')).toThrow(/alphanumeric/);
    expect(named('Poison')).toThrow(/collides with the output PoisonQueueUrl/);
  });
});
