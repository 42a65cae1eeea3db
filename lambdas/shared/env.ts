/**
 * Configuration from environment variables: `process.env` in Lambda (set by the CDK stack), a map
 * built by the offline runtime locally, so both read the same names with the same rules. Blank
 * counts as unset.
 */
export type EnvMap = Readonly<Record<string, string | undefined>>;

/** Fail fast at cold start when configuration is missing, instead of at the first request. */
export const requireEnv = (name: string, env: EnvMap = process.env): string => {
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`Missing required environment variable ${name}`);
  return value;
};

/** An integer, or undefined when the variable is unset. */
export const optionalIntEnv = (name: string, env: EnvMap = process.env): number | undefined => {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value))
    throw new Error(`Environment variable ${name} must be an integer, got "${raw}"`);
  return value;
};

export const intEnv = (name: string, fallback: number, env: EnvMap = process.env): number =>
  optionalIntEnv(name, env) ?? fallback;

export const positiveIntEnv = (name: string, fallback: number, env: EnvMap = process.env): number => {
  const value = intEnv(name, fallback, env);
  if (value <= 0) throw new Error(`Environment variable ${name} must be a positive integer, got ${value}`);
  return value;
};

export const boolEnv = (name: string, fallback: boolean, env: EnvMap = process.env): boolean => {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw !== 'true' && raw !== 'false')
    throw new Error(`Environment variable ${name} must be true or false`);
  return raw === 'true';
};
