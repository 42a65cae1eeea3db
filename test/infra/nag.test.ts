import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { readStageConfig } from '../../lib/config';
import { applySecurityChecks } from '../../lib/nag';
import { OrdersStack } from '../../lib/orders-stack';
import { formatFindings, synthFindings } from '../../packages/dynamodb-outbox/test/support/nag';

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

/** An app with the same checks as bin/app.ts, synthesized into a fresh directory. */
const checkedApp = (): App => {
  const outdir = mkdtempSync(join(tmpdir(), 'nag-'));
  outdirs.push(outdir);
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  applySecurityChecks(app);
  return app;
};

const contextOf =
  (values: Record<string, string>) =>
  (key: string): unknown =>
    values[key];

describe('cdk-nag AwsSolutions', () => {
  it('finds nothing unacknowledged in dev (AWS owned keys) nor in prod (customer managed key, alarm e-mail)', () => {
    // Prepare
    const app = checkedApp();
    const variants = {
      Dev: { stage: 'dev' },
      Prod: { stage: 'prod', encryption: 'customer-managed', alarmEmail: 'oncall@example.com' },
    };
    for (const [name, context] of Object.entries(variants)) {
      new OrdersStack(app, `Outbox${name}`, {
        config: readStageConfig(contextOf(context)),
        // A table with a customer managed key names it per replica region: the stack needs one.
        env: { account: '123456789012', region: 'eu-west-1' },
      });
    }

    // Act
    const findings = synthFindings(app);

    // Assess: one line per finding (rule id and construct path), so a failure says what to fix where.
    expect(formatFindings(findings)).toBe('');
  });

  it('fails the synth on a finding and reports its rule and construct path', () => {
    // Prepare
    const app = checkedApp();
    new Queue(new Stack(app, 'Probe'), 'PlainQueue');

    // Act
    const findings = synthFindings(app);

    // Assess
    expect(findings.map((f) => `${f.ruleId} ${f.path}`).sort()).toEqual([
      'AwsSolutions-SQS3 Probe/PlainQueue/Resource',
      'AwsSolutions-SQS4 Probe/PlainQueue/Resource',
    ]);
    expect(() => app.synth({ force: true })).toThrow(/AwsSolutions-SQS3/);
  });

  it('accepts an acknowledgement only on the construct it names, and only for that rule', () => {
    // Prepare
    const app = checkedApp();
    const stack = new Stack(app, 'Probe');
    const acknowledged = new Queue(stack, 'Acknowledged', { enforceSSL: true });
    new Queue(stack, 'Other', { enforceSSL: true });
    Validations.of(acknowledged).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'Probe: this queue is itself a dead-letter queue.',
    });

    // Act
    const findings = synthFindings(app);

    // Assess
    expect(findings.map((f) => `${f.ruleId} ${f.path}`)).toEqual(['AwsSolutions-SQS3 Probe/Other/Resource']);
  });
});
