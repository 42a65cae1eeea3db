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
