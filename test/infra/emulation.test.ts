import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { readStageConfig } from '../../lib/config';
import { OrdersStack } from '../../lib/orders-stack';
import { ENTRY_METADATA } from '../../packages/dynamodb-outbox/src/cdk/metadata';
import {
  checkEmulation,
  EMULATED_TYPES,
  NOT_EMULATED_TYPES,
} from '../../packages/dynamodb-outbox/src/local/emulation';
import { templateSchema } from '../../packages/dynamodb-outbox/src/local/template';
import { removeTestApps, testApp } from './support';

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

const assemblies = new Map<string, { template: Template; outdir: string }>();

/**
 * The orders stack's template and assembly directory for a context, synthesized once per context,
 * with the asset metadata the offline runtime's synth records.
 */
const synthFor = (context: Record<string, string>): { template: Template; outdir: string } => {
  const key = JSON.stringify(context);
  const cached = assemblies.get(key);
  if (cached) return cached;
  const app = testApp({ context: { ...context, 'aws:cdk:enable-asset-metadata': true } });
  const config = readStageConfig((name) => app.node.tryGetContext(name));
  const template = Template.fromStack(new OrdersStack(app, 'Orders', { config, env }));
  assemblies.set(key, { template, outdir: app.outdir });
  return { template, outdir: app.outdir };
};

const templateFor = (context: Record<string, string>): Template => synthFor(context).template;

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

  it('records on every function the code the runtime runs: its handler source, or its staged asset', () => {
    // Prepare
    const { template, outdir } = synthFor(context);
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));

    // Act: the app's functions name their TypeScript source, the engine's run from prebuilt assets.
    const sources = Object.values(
      template.findResources('AWS::Lambda::Function', {
        Metadata: Match.objectLike({ [ENTRY_METADATA]: Match.stringLikeRegexp('\\.ts$') }),
      }),
    );
    const prebuilt = Object.values(
      template.findResources('AWS::Lambda::Function', {
        Properties: Match.objectLike({ Handler: 'index.handler' }),
        Metadata: Match.not(Match.objectLike({ [ENTRY_METADATA]: Match.anyValue() })),
      }),
    );
    const entries = sources.map((fn) => String(fn.Metadata?.[ENTRY_METADATA]));
    const assets = prebuilt.map((fn) => join(outdir, String(fn.Metadata?.['aws:asset:path'])));

    // Assess
    expect(entries.length).toBeGreaterThan(0);
    expect(assets.length).toBe(context.deliveryTracking === 'false' ? 1 : 2);
    expect(entries.length + assets.length).toBe(functions.length);
    for (const entry of entries) {
      expect(isAbsolute(entry), `${entry} is relative to the app`).toBe(false);
      const path = resolve(entry);
      expect(existsSync(path) && statSync(path).isFile(), `${entry} is a file`).toBe(true);
    }
    for (const asset of assets) expect(existsSync(join(asset, 'index.mjs')), `${asset}/index.mjs`).toBe(true);
  });
});
