import type { EnvContract } from '../runtime/settings.js';
import type * as z from '../runtime/zod.js';

/**
 * A function's environment from its settings contract, validated at synth with the bounds the
 * function reads them with; the message names the construct and the setting.
 */
export const contractEnv = <S extends z.ZodMiniType>(
  construct: string,
  contract: EnvContract<S>,
  settings: z.input<S>,
): Record<string, string> => {
  try {
    return contract.toEnv(settings);
  } catch (error) {
    throw new Error(`${construct}: ${error instanceof Error ? error.message : String(error)}`);
  }
};
