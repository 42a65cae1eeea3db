import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { resolveTarget, StackOutput } from '../../../packages/dynamodb-outbox/src/cli/target';
import {
  TIME_ORDERED_TABLE_LAYOUT,
  tracksWithReceipts,
} from '../../../packages/dynamodb-outbox/src/runtime/layout';
import { ordersOutboxLayout } from '../../../packages/dynamodb-outbox/test/support/sample-table';

const cloudFormation = mockClient(CloudFormationClient);
const sqs = mockClient(SQSClient);

/** The layout of the target resolved from these options, its clients released. */
const layoutOf = async (options: Parameters<typeof resolveTarget>[0]) => {
  const target = await resolveTarget(options, {});
  target.destroy();
  return target.layout;
};

describe('the layout of the target', () => {
  beforeEach(() => {
    cloudFormation.reset();
    sqs.reset();
    sqs.on(ListQueuesCommand).resolves({ QueueUrls: [] });
  });

  it("comes from the stack's OutboxLayout output, a time-ordered one included", async () => {
    // Prepare
    cloudFormation.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'Outbox',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: [
            { OutputKey: StackOutput.TableName, OutputValue: 'outbox' },
            { OutputKey: StackOutput.Layout, OutputValue: JSON.stringify(TIME_ORDERED_TABLE_LAYOUT) },
          ],
        },
      ],
    });

    // Act
    const layout = await layoutOf({ stack: 'Outbox', region: 'eu-west-1' });

    // Assess
    expect(layout).toEqual(TIME_ORDERED_TABLE_LAYOUT);
    expect(tracksWithReceipts(layout)).toBe(true);
  });

  it("comes from npm start's outputs offline, and is the orders table's without one", async () => {
    const local = { [StackOutput.Layout]: JSON.stringify(TIME_ORDERED_TABLE_LAYOUT) };
    expect(await layoutOf({ local: true, outputs: local })).toEqual(TIME_ORDERED_TABLE_LAYOUT);
    expect(await layoutOf({ local: true, outputs: {} })).toEqual(ordersOutboxLayout);
    expect(await layoutOf({ table: 'orders', region: 'eu-west-1' })).toEqual(ordersOutboxLayout);
  });

  it('is named with --layout for a table without a stack, by kind or as JSON, over the outputs', async () => {
    const json = JSON.stringify({ ...TIME_ORDERED_TABLE_LAYOUT, partitionKey: 'PK', sortKey: 'SK' });
    expect(await layoutOf({ table: 'outbox', region: 'eu-west-1', layout: 'time-ordered-table' })).toEqual(
      TIME_ORDERED_TABLE_LAYOUT,
    );
    expect(await layoutOf({ local: true, outputs: {}, layout: json })).toMatchObject({
      kind: 'time-ordered-table',
      partitionKey: 'PK',
      sortKey: 'SK',
    });
    const stackSays = { [StackOutput.Layout]: JSON.stringify(ordersOutboxLayout) };
    expect(await layoutOf({ local: true, outputs: stackSays, layout: 'time-ordered-table' })).toEqual(
      TIME_ORDERED_TABLE_LAYOUT,
    );
  });

  it('refuses a --layout or an output that is not a layout, naming what it takes', async () => {
    await expect(layoutOf({ local: true, outputs: {}, layout: 'time-ordered' })).rejects.toThrow(
      `--layout takes time-ordered-table, or an outbox layout as JSON (the stack's OutboxLayout output), got "time-ordered"`,
    );
    await expect(
      layoutOf({ local: true, outputs: { [StackOutput.Layout]: '{"kind":"sideways"}' } }),
    ).rejects.toThrow("The stack's OutboxLayout output is not an outbox layout");
  });
});
