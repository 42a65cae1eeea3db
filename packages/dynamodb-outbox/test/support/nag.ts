import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Stage, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

/*
 * cdk-nag in the tests: the AwsSolutions pack on every synth, and the findings of a synth read back
 * out of its validation report, so a test can state exactly what cdk-nag finds (or that it finds nothing).
 */

/**
 * Run cdk-nag's AwsSolutions pack on every synth of `scope`, as an app does: an unacknowledged
 * finding makes `synth()` throw and lands in `validation-report.json` (read by `synthFindings`).
 */
export const applyAwsSolutionsChecks = (scope: Stage): void => {
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
 * Synthesize `scope` (with the AwsSolutions checks applied) and return every unacknowledged
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
