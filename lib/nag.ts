import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Stage, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

/**
 * Run cdk-nag's AwsSolutions pack on every synth of `scope` (an App or a Stage). cdk-nag v3 is a
 * CDK policy-validation plugin: an unacknowledged finding makes `app.synth()` throw, so
 * `cdk synth` and `cdk deploy` fail, and the findings land in `validation-report.json` in the
 * cloud assembly. Acknowledge a finding next to the resource it concerns with
 * `Validations.of(construct).acknowledge({ id, reason })`, never for a whole stack.
 */
export const applySecurityChecks = (scope: Stage): void => {
  // verbose: the report then says why the rule exists, not only what it found.
  Validations.of(scope).addPlugins(new AwsSolutionsChecks(scope, { verbose: true }));
};

/** One unacknowledged finding: rule id (with the finding suffix, e.g. `AwsSolutions-IAM5[Resource::*]`) and where. */
export interface NagFinding {
  readonly ruleId: string;
  readonly path: string;
  readonly severity: string;
  readonly description: string;
}

interface ValidationReport {
  readonly pluginReports?: ReadonlyArray<{
    readonly pluginName: string;
    readonly violations?: ReadonlyArray<{
      readonly ruleName: string;
      readonly description: string;
      readonly severity?: string;
      readonly violatingConstructs?: ReadonlyArray<{ readonly constructPath: string }>;
    }>;
  }>;
}

/**
 * Synthesize `scope` (with `applySecurityChecks` applied) and return every unacknowledged
 * finding, flattened to one entry per rule and construct. An empty list means synth passed.
 * Errors that are not validation failures are rethrown.
 */
export const synthFindings = (scope: Stage): NagFinding[] => {
  const reportFile = join(scope.outdir, 'validation-report.json');
  // A report left by an earlier synth into the same directory must not be mistaken for this one's.
  rmSync(reportFile, { force: true });
  try {
    scope.synth({ force: true });
    return [];
  } catch (error) {
    let report: ValidationReport;
    try {
      report = JSON.parse(readFileSync(reportFile, 'utf8')) as ValidationReport;
    } catch {
      throw error;
    }
    return (report.pluginReports ?? []).flatMap((plugin) =>
      (plugin.violations ?? []).flatMap((violation) =>
        (violation.violatingConstructs ?? []).map((construct) => ({
          ruleId: violation.ruleName,
          path: construct.constructPath,
          severity: violation.severity ?? 'error',
          description: violation.description,
        })),
      ),
    );
  }
};

/** One line per finding, for test failure messages and CI logs. */
export const formatFindings = (findings: readonly NagFinding[]): string =>
  findings.map((f) => `${f.ruleId} at ${f.path}: ${f.description.split('. ')[0]}`).join('\n');
