import { fileURLToPath } from 'node:url';
import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  outboxTableProps,
  PowertoolsFunction,
  TransactionalOutbox,
  type TransactionalOutboxProps,
} from '../../src/cdk';
import { DEFAULT_CAPACITY_SETTINGS } from '../../src/cli/capacity-model';
import { sameTableLayout, TIME_ORDERED_TABLE_LAYOUT } from '../../src/runtime/layout';
import { reconcilerSettings, relaySettings, writerSettings } from '../../src/runtime/settings';
import { removeTestApps, settingsLike, settingsOf, testApp } from '../support/infra';

/*
 * The capacity knobs of TransactionalOutbox: the dedicated table's shardCount (and the count it had
 * before a decrease) reach every function through its layout, and the relay's mapping takes the
 * concurrency and batching settings; out-of-range values are refused with the prop's name.
 */

const ENTRY = fileURLToPath(new URL('../fixtures/handler.ts', import.meta.url));

const build = (props: Partial<TransactionalOutboxProps> = {}) => {
  const stack = new Stack(testApp(), 'Capacity');
  const table = new TableV2(stack, 'Table', {
    partitionKey: { name: 'pk', type: AttributeType.STRING },
    sortKey: { name: 'sk', type: AttributeType.STRING },
    ...(props.layout ? outboxTableProps(props.layout) : {}),
  });
  const eventBus = new EventBus(stack, 'Bus');
  const outbox = new TransactionalOutbox(stack, 'Outbox', { table, eventBus, ...props });
  const writer = new PowertoolsFunction(stack, 'Writer', { entry: ENTRY, serviceName: 'writer' });
  outbox.grantWrite(writer);
  return { stack, outbox, writer };
};

afterAll(removeTestApps);

describe('TransactionalOutbox with shardCount 64 and the relay at full concurrency', () => {
  const layout = { ...TIME_ORDERED_TABLE_LAYOUT, shardCount: 64 };
  let built: ReturnType<typeof build>;
  let template: Template;

  beforeAll(() => {
    built = build({
      shardCount: 64,
      relay: { parallelizationFactor: 10, batchSize: 1000, maxBatchingWindow: Duration.seconds(1) },
    });
    template = Template.fromStack(built.stack);
  }, 60_000);

  it('hands the layout with 64 shards to the relay, the reconciler and the writer, and outputs it', () => {
    const reconciler = built.outbox.reconciler;
    if (!reconciler) throw new Error('expected a reconciler');
    expect(built.outbox.layout).toEqual(layout);
    expect(settingsOf(template, built.outbox.relay.function, relaySettings.variable).layout).toEqual(layout);
    expect(settingsOf(template, reconciler.function, reconcilerSettings.variable).layout).toEqual(layout);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ [writerSettings.variable]: settingsLike({ layout }) }),
      },
    });
    // The CLI (status, redrive) reads the layout from this output: it lists 64 shards too.
    template.hasOutput('*', { Value: JSON.stringify(layout) });
  });

  it("sets the stream mapping's parallelization factor, batch size and batching window", () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ParallelizationFactor: 10,
      BatchSize: 1000,
      MaximumBatchingWindowInSeconds: 1,
    });
  });
});

describe('TransactionalOutbox by default', () => {
  it('has the settings the capacity model (`dynamodb-outbox capacity`, docs/capacity.md) calls the defaults', () => {
    const { stack, outbox } = build();
    expect(outbox.layout.kind === 'time-ordered-table' && outbox.layout.shardCount).toBe(
      DEFAULT_CAPACITY_SETTINGS.shardCount,
    );
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ParallelizationFactor: DEFAULT_CAPACITY_SETTINGS.parallelizationFactor,
      BatchSize: DEFAULT_CAPACITY_SETTINGS.batchSize,
    });
  });
});

describe('TransactionalOutbox after lowering shardCount', () => {
  it('keeps the count it had before in the layout, so that the reconciler still lists those partitions', () => {
    const { outbox } = build({ shardCount: 8, previousShardCount: 64 });
    expect(outbox.layout).toEqual({ ...TIME_ORDERED_TABLE_LAYOUT, shardCount: 8, previousShardCount: 64 });
  });
});

describe('TransactionalOutbox refuses capacity settings out of range, naming the prop', () => {
  it.each([0, 101, 2.5])('shardCount %s', (shardCount) => {
    expect(() => build({ shardCount })).toThrow(
      `TransactionalOutbox: shardCount must be an integer from 1 to 100, got ${shardCount}`,
    );
  });

  it('a previousShardCount that is not above shardCount', () => {
    expect(() => build({ shardCount: 16, previousShardCount: 16 })).toThrow(
      'TransactionalOutbox: previousShardCount is the larger shardCount a table had before it was lowered: an integer from 17 to 100, got 16',
    );
  });

  it('shardCount or previousShardCount with a same-table layout', () => {
    const layout = sameTableLayout({ partitionKey: 'pk', sortKey: 'sk' });
    for (const prop of ['shardCount', 'previousShardCount'] as const)
      expect(() => build({ layout, [prop]: 16 })).toThrow(
        `TransactionalOutbox: ${prop} applies only to the dedicated outbox table, not with layout`,
      );
  });

  it("the relay's parallelization factor, batch size and batching window outside AWS's ranges", () => {
    expect(() => build({ relay: { parallelizationFactor: 11 } })).toThrow(
      'OutboxRelay: parallelizationFactor must be an integer from 1 to 10, got 11',
    );
    expect(() => build({ relay: { batchSize: 10_001 } })).toThrow(
      'OutboxRelay: batchSize must be an integer from 1 to 10000, got 10001',
    );
    expect(() => build({ relay: { maxBatchingWindow: Duration.seconds(301) } })).toThrow(
      'OutboxRelay: maxBatchingWindow must be at most 5 minutes',
    );
  });
});
