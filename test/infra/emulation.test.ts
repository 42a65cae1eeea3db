import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { readStageConfig } from '../../lib/config';
import { OrdersStack } from '../../lib/orders-stack';
import {
  checkEmulation,
  EMULATED_TYPES,
  NOT_EMULATED_TYPES,
} from '../../packages/dynamodb-outbox/src/local/emulation';
import { templateSchema } from '../../packages/dynamodb-outbox/src/local/template';
import { removeTestApps, testApp } from '../../packages/dynamodb-outbox/test/support/infra';

/*
 * The offline runtime runs the synthesized template, and stops at start-up on any resource type or
 * property it does not know. These tests make that a failing test instead: a construct that adds a
 * type or a property the runtime has no answer for fails here, for every context that changes the
 * stack's shape.
 */

afterAll(removeTestApps);

const variants: ReadonlyArray<readonly [string, Record<string, string>]> = [
  ['the default context', {}],
  ['deliveryTracking=false', { deliveryTracking: 'false' }],
  ['encryption=customer-managed', { encryption: 'customer-managed' }],
];

/** As `cdk deploy` synthesizes it: for an account and region (customer-managed keys need one). */
const env = { account: '123456789012', region: 'eu-west-1' };

const templates = new Map<string, Template>();

/** The orders stack's template for a context, synthesized once per context. */
const templateFor = (context: Record<string, string>): Template => {
  const key = JSON.stringify(context);
  const cached = templates.get(key);
  if (cached) return cached;
  const app = testApp({ context });
  const config = readStageConfig((name) => app.node.tryGetContext(name));
  const template = Template.fromStack(new OrdersStack(app, 'Orders', { config, env }));
  templates.set(key, template);
  return template;
};

describe.each(variants)('the orders stack with %s, as the offline runtime reads it', (_, context) => {
  it('uses only resource types and properties the runtime emulates or knows to be inert offline', () => {
    // Prepare
    const template = templateSchema.parse(templateFor(context).toJSON());

    // Act
    const plan = checkEmulation(template);

    // Assess
    const types = new Set(Object.values(template.Resources).map((resource) => resource.Type));
    expect([...types].filter((type) => !(type in EMULATED_TYPES) && !(type in NOT_EMULATED_TYPES))).toEqual(
      [],
    );
    expect(plan.notEmulated).toEqual([...types].filter((type) => type in NOT_EMULATED_TYPES).sort());
  });
});
