import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replay, replayOptions } from '../../packages/dynamodb-outbox/src/cli/replay';
import { resolveTarget } from '../../packages/dynamodb-outbox/src/cli/target';
import { type LocalRuntime, startLocalRuntime } from '../../packages/dynamodb-outbox/src/local/runtime';
import { waitFor } from '../../packages/dynamodb-outbox/test/support/processes';

/*
 * docs/operations.md tells how to replay to one consumer offline. Each `--rule` it shows there goes
 * through the CLI's own steps (the replay arguments, the local target from the runtime's outputs,
 * the local replay) against the orders stack running offline, and must reach the inventory rule.
 */

const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');

/** The offline replay paragraph: from "Offline, `npm run outbox -- replay" to the end of its section. */
const offlineReplay = /Offline, `npm run outbox -- replay[\s\S]*?(?=\n## )/.exec(doc)?.[0] ?? '';

/** Every `--rule <value>` of the paragraph's code spans, placeholders (`<rule>`) left out. */
const documentedRules = [...offlineReplay.matchAll(/`[^`]*--rule ([^\s`\]]+)[^`]*`/g)]
  .map((match) => match[1] ?? '')
  .filter((rule) => !rule.startsWith('<'));

/** The `--outbox` the paragraph's command names: the orders stack holds two outboxes. */
const documentedOutbox = /`npm run outbox -- replay[^`]*--outbox (\S+)/.exec(offlineReplay)?.[1];

describe('docs/operations.md: replay to one rule offline', () => {
  let runtime: LocalRuntime;

  beforeAll(async () => {
    runtime = await startLocalRuntime({ apiPort: 0, dynamoDbPort: 0, schedules: false });
    const response = await fetch(`${runtime.apiUrl}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        customerId: 'c1',
        currency: 'EUR',
        lines: [{ sku: 'SKU-1', quantity: 1, unitPrice: 1250 }],
      }),
    });
    expect(response.status).toBe(201);
    await waitFor(() => runtime.eventBus.events().length > 0, 'the order event on the bus');
  }, 120_000);
  afterAll(() => runtime?.stop());

  /** `replay --from 10m --to now --rule <rule>`, as the CLI runs it against this runtime. */
  const replayTo = async (rule: string) => {
    const target = await resolveTarget(
      { local: true, outputs: runtime.outputs, ...(documentedOutbox ? { outbox: documentedOutbox } : {}) },
      {
        DYNAMODB_ENDPOINT: runtime.dynamoDb.endpoint,
        EVENTBRIDGE_ENDPOINT: runtime.eventBus.endpoint,
        SQS_ENDPOINT: runtime.sqs.endpoint,
      },
    );
    try {
      return await replay(target, replayOptions({ from: '10m', to: 'now', rule }));
    } finally {
      target.destroy();
    }
  };

  it('shows at least one form', () => {
    expect(documentedRules.length).toBeGreaterThan(0);
  });

  it.each(documentedRules)('--rule %s replays to the inventory rule', async (rule) => {
    // Act
    const report = await replayTo(rule);

    // Assess: the one rule the InventoryRuleArn output names, and the order's event.
    const inventoryRule = String(runtime.outputs.InventoryRuleArn).split(':rule/')[1];
    expect(report.rules).toEqual([inventoryRule]);
    expect(report.events).toBeGreaterThan(0);
  });

  it('also takes the rule ARN of that output and the rule name in it, as on AWS', async () => {
    const arn = String(runtime.outputs.InventoryRuleArn);
    const byArn = await replayTo(arn);
    const byName = await replayTo(arn.split(':rule/')[1] ?? '');
    expect(byArn.rules).toEqual(byName.rules);
    expect(byArn.rules).toHaveLength(1);
  });
});
