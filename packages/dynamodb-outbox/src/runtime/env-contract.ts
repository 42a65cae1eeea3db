import { describeIssues } from './envelope.js';
import * as z from './zod.js';

/**
 * The typed environment contract of each outbox function: the construct writes it (`toEnv`), the
 * function's wiring reads it back (`fromEnv`), both through the same zod schema, so the bounds
 * are the same on both sides and a setting is described once. One environment variable a
 * contract, holding JSON: names that CloudFormation resolves (table, bus, queue) are embedded as
 * tokens and arrive as plain strings.
 */
export type EnvMap = Readonly<Record<string, string | undefined>>;

export interface EnvContract<S extends z.ZodMiniType> {
  /** The environment variable that carries the settings. */
  readonly variable: string;
  readonly schema: S;
  /** Validated settings → the function's environment. Throws naming the setting. */
  toEnv(settings: z.input<S>): Record<string, string>;
  /** The function's environment → validated settings. Throws naming the variable and the setting. */
  fromEnv(env?: EnvMap): z.output<S>;
}

export class InvalidSettingsError extends Error {
  override readonly name = 'InvalidSettingsError';
}

export const defineContract = <S extends z.ZodMiniType>(variable: string, schema: S): EnvContract<S> => {
  const parse = (value: unknown): z.output<S> => {
    const parsed = schema.safeParse(value);
    if (!parsed.success)
      throw new InvalidSettingsError(`Invalid ${variable}: ${describeIssues(parsed.error)}`);
    return parsed.data;
  };
  return {
    variable,
    schema,
    toEnv: (settings) => ({ [variable]: JSON.stringify(parse(settings)) }),
    fromEnv: (env = process.env) => {
      const raw = env[variable];
      if (raw === undefined || raw === '')
        throw new InvalidSettingsError(`Missing required environment variable ${variable}`);
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        throw new InvalidSettingsError(`Invalid ${variable}: not JSON`);
      }
      return parse(value);
    },
  };
};

/** A name CloudFormation fills in (table, bus, queue): required, never empty. */
export const requiredName = (what: string) => z.string().check(z.minLength(1, `${what} is required`));
