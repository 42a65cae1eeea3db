import { CfnOutput, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/** Output keys already taken, per stack: two constructs with one prefix would overwrite each other. */
const taken = new WeakMap<Stack, Map<string, string>>();

/**
 * Stack outputs the CLI reads (runtime/stack-outputs.ts), added to `scope` under their exact keys:
 * the key is the output's logical id, never suffixed with a hash of the construct path, so the CLI
 * finds it. A key another construct of the stack already output is refused, naming both.
 */
export const addCliOutputs = (
  scope: Construct,
  outputs: Readonly<Record<string, { readonly value: string; readonly description: string }>>,
): void => {
  const stack = Stack.of(scope);
  const keys = taken.get(stack) ?? new Map<string, string>();
  taken.set(stack, keys);
  for (const [key, { value, description }] of Object.entries(outputs)) {
    const owner = keys.get(key);
    if (owner !== undefined)
      throw new Error(
        `${scope.node.path}: the stack output ${key} is already ${owner}'s; give one of them another id (the outputs are named after it)`,
      );
    keys.set(key, scope.node.path);
    new CfnOutput(scope, key, { value, description }).overrideLogicalId(key);
  }
};
