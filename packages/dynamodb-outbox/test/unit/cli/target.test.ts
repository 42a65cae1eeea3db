import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { resolveTarget } from '../../../src/cli/target';
import { TIME_ORDERED_TABLE_LAYOUT } from '../../../src/runtime/layout';
import { ordersOutboxLayout } from '../../support/sample-table';

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
            { OutputKey: 'OutboxTableName', OutputValue: 'outbox' },
            { OutputKey: 'OutboxLayout', OutputValue: JSON.stringify(TIME_ORDERED_TABLE_LAYOUT) },
          ],
        },
      ],
    });

    // Act
    const layout = await layoutOf({ stack: 'Outbox', region: 'eu-west-1' });

    // Assess
    expect(layout).toEqual(TIME_ORDERED_TABLE_LAYOUT);
  });

  it("comes from the local runtime's outputs offline, and is TransactionalOutbox's default for a table alone", async () => {
    const local = { OutboxTableName: 'orders', OutboxLayout: JSON.stringify(ordersOutboxLayout) };
    expect(await layoutOf({ local: true, outputs: local })).toEqual(ordersOutboxLayout);
    expect(await layoutOf({ local: true, table: 'orders', outputs: {} })).toEqual(TIME_ORDERED_TABLE_LAYOUT);
    expect(await layoutOf({ table: 'orders', region: 'eu-west-1' })).toEqual(TIME_ORDERED_TABLE_LAYOUT);
  });

  it('is named with --layout for a table without a stack, by kind or as JSON, over the outputs', async () => {
    const json = JSON.stringify({ ...TIME_ORDERED_TABLE_LAYOUT, partitionKey: 'PK', sortKey: 'SK' });
    expect(await layoutOf({ table: 'outbox', region: 'eu-west-1', layout: 'time-ordered-table' })).toEqual(
      TIME_ORDERED_TABLE_LAYOUT,
    );
    expect(await layoutOf({ local: true, table: 'outbox', outputs: {}, layout: json })).toMatchObject({
      kind: 'time-ordered-table',
      partitionKey: 'PK',
      sortKey: 'SK',
    });
    const stackSays = { OutboxTableName: 'orders', OutboxLayout: JSON.stringify(ordersOutboxLayout) };
    expect(await layoutOf({ local: true, outputs: stackSays, layout: 'time-ordered-table' })).toEqual(
      TIME_ORDERED_TABLE_LAYOUT,
    );
  });

  it('refuses a --layout or an output that is not a layout, naming what it takes', async () => {
    await expect(layoutOf({ local: true, table: 't', outputs: {}, layout: 'time-ordered' })).rejects.toThrow(
      `--layout takes time-ordered-table, or an outbox layout as JSON (the outbox's <id>Layout output), got "time-ordered"`,
    );
    await expect(
      layoutOf({ local: true, outputs: { OutboxTableName: 't', OutboxLayout: '{"kind":"sideways"}' } }),
    ).rejects.toThrow("The outbox's Layout output is not an outbox layout");
  });
});

/** Two outboxes' outputs in one stack, as TransactionalOutbox writes them. */
const twoOutboxes = {
  ShipmentsTableName: 'shipments-outbox',
  ShipmentsLayout: JSON.stringify(TIME_ORDERED_TABLE_LAYOUT),
  ShipmentsEventBusName: 'bus',
  ShipmentsEventSource: 'shipments',
  ShipmentsRetentionDays: '3',
  ShipmentsPoisonQueueUrl: 'http://127.0.0.1:9324/000000000000/shipments-poison',
  BillingTableName: 'billing',
  BillingLayout: JSON.stringify(ordersOutboxLayout),
  BillingEventSource: 'billing',
  BillingPoisonQueueUrl: 'http://127.0.0.1:9324/000000000000/billing-poison',
  AuditDeadLetterQueueUrl: 'http://127.0.0.1:9324/000000000000/audit-dlq',
  AuditRuleArn: 'arn:aws:events:us-east-1:000000000000:rule/Audit',
  // Not an outbox's: its value is no layout.
  PageLayout: 'two columns',
};

/** The target resolved from these options, its clients released. */
const targetOf = async (options: Parameters<typeof resolveTarget>[0]) => {
  const target = await resolveTarget(options, {});
  target.destroy();
  return target;
};

describe('the outbox of the target', () => {
  beforeEach(() => {
    cloudFormation.reset();
    sqs.reset();
    sqs.on(ListQueuesCommand).resolves({ QueueUrls: [] });
  });

  it('reads every setting of the only outbox from its outputs, and every queue and rule of the stack', async () => {
    // Prepare
    const { BillingTableName, BillingLayout, BillingEventSource, BillingPoisonQueueUrl, ...one } =
      twoOutboxes;

    // Act
    const target = await targetOf({ local: true, outputs: one });

    // Assess
    expect(target).toMatchObject({
      tableName: 'shipments-outbox',
      layout: TIME_ORDERED_TABLE_LAYOUT,
      eventBusName: 'bus',
      source: 'shipments',
      retentionDays: 3,
      poisonQueueUrl: twoOutboxes.ShipmentsPoisonQueueUrl,
      replay: { kind: 'local', rules: { Audit: twoOutboxes.AuditRuleArn } },
    });
    expect(target.queues.map((q) => q.name)).toEqual(['ShipmentsPoison', 'AuditDeadLetter']);
  });

  it('picks one of several with --outbox, by its construct id in any case, and flags over its outputs', async () => {
    const billing = await targetOf({ local: true, outputs: twoOutboxes, outbox: 'billing', bus: 'other' });
    expect(billing).toMatchObject({ tableName: 'billing', source: 'billing', eventBusName: 'other' });
    expect(billing.layout).toEqual(ordersOutboxLayout);
    // No retention output: TransactionalOutbox's default.
    expect(billing.retentionDays).toBe(7);
  });

  it('names the outboxes when several need --outbox, or when --outbox names none of them', async () => {
    await expect(targetOf({ local: true, outputs: twoOutboxes })).rejects.toThrow(
      "the local runtime's outputs (.local/outputs.json) hold 2 outboxes (Billing, Shipments): pick one with --outbox <id>",
    );
    await expect(targetOf({ local: true, outputs: twoOutboxes, outbox: 'Orders' })).rejects.toThrow(
      "No outbox Orders in the local runtime's outputs (.local/outputs.json); outboxes there: Billing, Shipments",
    );
  });

  it('says what to pass when the outputs hold no outbox, on AWS and offline, and never guesses a name', async () => {
    // Prepare
    cloudFormation.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'Web',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: [{ OutputKey: 'SiteUrl', OutputValue: 'https://example.com' }],
        },
      ],
    });

    // Act + Assess
    await expect(targetOf({ stack: 'Web', region: 'eu-west-1' })).rejects.toThrow(
      'No outbox in the outputs of stack Web (TransactionalOutbox outputs its table, layout, bus and queues there): ' +
        'pass --table <name>, with --layout, --bus and --source as the command needs them',
    );
    await expect(targetOf({ local: true, outputs: { SiteUrl: 'x' } })).rejects.toThrow(
      "No outbox in the local runtime's outputs (.local/outputs.json)",
    );
  });

  it('leaves bus and source unset without outputs or flags: a redrive then asks for them', async () => {
    const target = await targetOf({ table: 'outbox', region: 'eu-west-1' });
    expect(target.eventBusName).toBeUndefined();
    expect(target.source).toBeUndefined();
  });
});
