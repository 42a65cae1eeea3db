import { BlockList, isIPv4, isIPv6 } from 'node:net';

/**
 * EventBridge event pattern matching, as documented in "Creating Amazon EventBridge event patterns"
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html) and "Content
 * filtering in Amazon EventBridge event patterns"
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html).
 * Lambda event source mapping filter criteria use the same syntax
 * (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html), so the local stream
 * poller evaluates the deployed filter with this module too.
 *
 * Supported: exact strings, numbers, booleans and null; arrays as OR; nested objects; `$or`;
 * prefix / suffix (also with equals-ignore-case); equals-ignore-case; wildcard; anything-but
 * (values, lists, prefix, suffix, equals-ignore-case, wildcard); numeric ranges; exists; cidr
 * (IPv4 and IPv6); event fields that are arrays (a match on any element is a match).
 *
 * Patterns are validated when compiled, so a typo in a rule fails at start-up with a message,
 * as PutRule would reject it, instead of silently never matching.
 */

export type EventPattern = Readonly<Record<string, unknown>>;
export type EventMatcher = (event: unknown) => boolean;

export class InvalidEventPatternError extends Error {
  override readonly name = 'InvalidEventPatternError';
}

type JsonScalar = string | number | boolean | null;
/** What a leaf matcher sees: the scalar values at the path, and whether the path is a leaf at all. */
interface LeafValues {
  readonly present: boolean;
  readonly values: readonly JsonScalar[];
}
type LeafTest = (leaf: LeafValues) => boolean;
type NodeTest = (value: unknown) => boolean;

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isScalar = (value: unknown): value is JsonScalar =>
  value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';

const invalid = (path: string, message: string): never => {
  throw new InvalidEventPatternError(`Event pattern is not valid at "${path || '<root>'}": ${message}`);
};

/**
 * The scalar values found at one field. An object is not a leaf (exists matching only works on
 * leaf nodes); arrays, including nested arrays, contribute each scalar element.
 */
const leafValues = (value: unknown): LeafValues => {
  if (value === undefined || isPlainObject(value)) return { present: false, values: [] };
  if (!Array.isArray(value)) return { present: true, values: isScalar(value) ? [value] : [] };
  const values: JsonScalar[] = [];
  const collect = (items: readonly unknown[]): void => {
    for (const item of items) {
      if (Array.isArray(item)) collect(item);
      else if (isScalar(item)) values.push(item);
    }
  };
  collect(value);
  return { present: values.length > 0, values };
};

const requireString = (value: unknown, path: string, operator: string): string => {
  if (typeof value !== 'string') invalid(path, `"${operator}" needs a string`);
  return value as string;
};

const lower = (value: string): string => value.toLowerCase();

/** `prefix` / `suffix` accept a string or `{ "equals-ignore-case": string }`. */
const affixTest = (
  operand: unknown,
  path: string,
  operator: 'prefix' | 'suffix',
): ((s: string) => boolean) => {
  let expected: string;
  let ignoreCase = false;
  if (isPlainObject(operand)) {
    const keys = Object.keys(operand);
    if (keys.length !== 1 || keys[0] !== 'equals-ignore-case')
      invalid(path, `"${operator}" takes a string or { "equals-ignore-case": string }`);
    expected = requireString(operand['equals-ignore-case'], path, `${operator}.equals-ignore-case`);
    ignoreCase = true;
  } else {
    expected = requireString(operand, path, operator);
  }
  const needle = ignoreCase ? lower(expected) : expected;
  return (s) => {
    const haystack = ignoreCase ? lower(s) : s;
    return operator === 'prefix' ? haystack.startsWith(needle) : haystack.endsWith(needle);
  };
};

/**
 * `*` matches any run of characters (including none); `\*` is a literal star and `\\` a literal
 * backslash. Two consecutive wildcards are rejected, as EventBridge does.
 */
const wildcardTest = (operand: unknown, path: string): ((s: string) => boolean) => {
  const pattern = requireString(operand, path, 'wildcard');
  let source = '^';
  let previousWasStar = false;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern.charAt(i);
    if (char === '\\') {
      const next = pattern.charAt(i + 1);
      if (next !== '*' && next !== '\\') invalid(path, 'in "wildcard", "\\" may only escape "*" or "\\"');
      source += `\\${next}`;
      i++;
      previousWasStar = false;
    } else if (char === '*') {
      if (previousWasStar) invalid(path, '"wildcard" may not contain consecutive "*"');
      source += '.*';
      previousWasStar = true;
    } else {
      source += char.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
      previousWasStar = false;
    }
  }
  const regex = new RegExp(`${source}$`, 's');
  return (s) => regex.test(s);
};

const NUMERIC_OPERATORS = ['=', '<', '<=', '>', '>='] as const;
type NumericOperator = (typeof NUMERIC_OPERATORS)[number];
const isNumericOperator = (value: unknown): value is NumericOperator =>
  typeof value === 'string' && (NUMERIC_OPERATORS as readonly string[]).includes(value);

const compare = (operator: NumericOperator, actual: number, bound: number): boolean => {
  switch (operator) {
    case '=':
      return actual === bound;
    case '<':
      return actual < bound;
    case '<=':
      return actual <= bound;
    case '>':
      return actual > bound;
    case '>=':
      return actual >= bound;
  }
};

/** `numeric: [op, n]` or a range `[">"|">=", low, "<"|"<=", high]`. */
const numericTest = (operand: unknown, path: string): ((n: number) => boolean) => {
  if (!Array.isArray(operand) || (operand.length !== 2 && operand.length !== 4))
    invalid(path, '"numeric" takes [operator, number] or [lower operator, number, upper operator, number]');
  const terms = operand as unknown[];
  const checks: Array<[NumericOperator, number]> = [];
  for (let i = 0; i < terms.length; i += 2) {
    const operator = terms[i];
    const bound = terms[i + 1];
    if (!isNumericOperator(operator)) invalid(path, `unknown numeric operator ${JSON.stringify(operator)}`);
    if (typeof bound !== 'number' || !Number.isFinite(bound))
      invalid(path, '"numeric" bounds must be numbers');
    checks.push([operator as NumericOperator, bound as number]);
  }
  const [first, second] = checks;
  if (first && second) {
    if ((first[0] !== '>' && first[0] !== '>=') || (second[0] !== '<' && second[0] !== '<='))
      invalid(path, 'a numeric range is written [">" or ">=", low, "<" or "<=", high]');
    if (first[1] > second[1]) invalid(path, 'the lower bound of a numeric range is above the upper bound');
  }
  return (n) => checks.every(([operator, bound]) => compare(operator, n, bound));
};

const cidrTest = (operand: unknown, path: string): ((s: string) => boolean) => {
  const cidr = requireString(operand, path, 'cidr');
  const [network, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const family = network && isIPv4(network) ? 'ipv4' : network && isIPv6(network) ? 'ipv6' : undefined;
  if (!network || !family || !Number.isInteger(bits) || bits < 0 || bits > (family === 'ipv4' ? 32 : 128))
    invalid(path, `"cidr" needs a CIDR block such as "10.0.0.0/24", got ${JSON.stringify(cidr)}`);
  const blocks = new BlockList();
  blocks.addSubnet(network as string, bits, family);
  return (s) => {
    if (isIPv4(s)) return blocks.check(s, 'ipv4');
    if (isIPv6(s)) return blocks.check(s, 'ipv6');
    return false;
  };
};

/** The operand of anything-but: a scalar, a list of all-strings or all-numbers, or a nested matcher. */
const anythingButTest = (operand: unknown, path: string): ((v: JsonScalar) => boolean) => {
  if (isPlainObject(operand)) {
    const keys = Object.keys(operand);
    const operator = keys[0];
    if (keys.length !== 1 || operator === undefined)
      invalid(path, '"anything-but" takes one nested operator');
    const inner = operand[operator as string];
    const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);
    let test: (s: string) => boolean;
    switch (operator) {
      case 'prefix':
      case 'suffix': {
        const tests = asList(inner).map((item) => affixTest(item, path, operator));
        test = (s) => tests.some((t) => t(s));
        break;
      }
      case 'equals-ignore-case': {
        const expected = asList(inner).map((item) => lower(requireString(item, path, operator)));
        test = (s) => expected.includes(lower(s));
        break;
      }
      case 'wildcard': {
        const tests = asList(inner).map((item) => wildcardTest(item, path));
        test = (s) => tests.some((t) => t(s));
        break;
      }
      default:
        return invalid(path, `"anything-but" does not support ${JSON.stringify(operator)}`);
    }
    // A nested string matcher excludes only the strings it matches; other types are "anything but".
    return (v) => typeof v !== 'string' || !test(v);
  }
  const excluded = Array.isArray(operand) ? operand : [operand];
  if (excluded.length === 0) invalid(path, '"anything-but" needs at least one value');
  const allStrings = excluded.every((v) => typeof v === 'string');
  const allNumbers = excluded.every((v) => typeof v === 'number');
  if (!allStrings && !allNumbers)
    invalid(path, '"anything-but" lists must hold only strings or only numbers');
  return (v) => !excluded.some((e) => scalarEquals(e as JsonScalar, v));
};

const scalarEquals = (expected: JsonScalar, actual: JsonScalar): boolean => {
  if (typeof expected === 'number' && typeof actual === 'number') return expected === actual;
  return expected === actual;
};

/** One element of a leaf array: a literal, or an object holding exactly one operator. */
const compileLeafMatcher = (matcher: unknown, path: string): LeafTest => {
  if (isScalar(matcher)) return ({ values }) => values.some((v) => scalarEquals(matcher, v));
  if (!isPlainObject(matcher)) return invalid(path, 'leaf arrays may only hold values and operator objects');
  const keys = Object.keys(matcher);
  const operator = keys[0];
  if (keys.length !== 1 || operator === undefined)
    return invalid(path, `an operator object holds exactly one operator, got ${JSON.stringify(keys)}`);
  const operand = matcher[operator];
  const onStrings = (test: (s: string) => boolean): LeafTest => {
    return ({ values }) => values.some((v) => typeof v === 'string' && test(v));
  };
  switch (operator) {
    case 'prefix':
    case 'suffix':
      return onStrings(affixTest(operand, path, operator));
    case 'equals-ignore-case': {
      const expected = lower(requireString(operand, path, operator));
      return onStrings((s) => lower(s) === expected);
    }
    case 'wildcard':
      return onStrings(wildcardTest(operand, path));
    case 'cidr':
      return onStrings(cidrTest(operand, path));
    case 'numeric': {
      const test = numericTest(operand, path);
      return ({ values }) => values.some((v) => typeof v === 'number' && test(v));
    }
    case 'exists': {
      if (typeof operand !== 'boolean') return invalid(path, '"exists" takes true or false');
      return ({ present }) => present === operand;
    }
    case 'anything-but': {
      const test = anythingButTest(operand, path);
      return ({ values }) => values.some(test);
    }
    default:
      return invalid(path, `unknown operator ${JSON.stringify(operator)}`);
  }
};

const compileLeaf = (matchers: readonly unknown[], path: string): NodeTest => {
  if (matchers.length === 0) invalid(path, 'a leaf array needs at least one value');
  const tests = matchers.map((m) => compileLeafMatcher(m, path));
  return (value) => {
    const leaf = leafValues(value);
    return tests.some((test) => test(leaf));
  };
};

/**
 * An object pattern: every field must match (AND). Against an event array of objects, the
 * pattern must match one element as a whole, so fields are never combined across elements.
 */
const compileObject = (pattern: Record<string, unknown>, path: string): NodeTest => {
  const keys = Object.keys(pattern);
  if (keys.length === 0) invalid(path, 'an object in a pattern needs at least one field');
  const fieldTests: Array<(object: Record<string, unknown> | undefined) => boolean> = keys.map((key) => {
    const child = pattern[key];
    const childPath = path ? `${path}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(child) || child.length < 2)
        invalid(childPath, '"$or" takes an array of at least two patterns');
      const alternatives = (child as unknown[]).map((alt, i) => {
        if (!isPlainObject(alt)) return invalid(`${childPath}[${i}]`, '"$or" alternatives must be objects');
        return compileObject(alt, path);
      });
      return (object) => alternatives.some((test) => test(object));
    }
    if (Array.isArray(child)) {
      const test = compileLeaf(child, childPath);
      return (object) => test(object?.[key]);
    }
    if (isPlainObject(child)) {
      const test = compileObject(child, childPath);
      return (object) => test(object?.[key]);
    }
    return invalid(childPath, 'pattern values must be arrays (of values or operators) or objects');
  });
  const matchObject = (object: Record<string, unknown> | undefined): boolean =>
    fieldTests.every((test) => test(object));
  return (value) => {
    if (isPlainObject(value)) return matchObject(value);
    if (Array.isArray(value)) return value.some((item) => isPlainObject(item) && matchObject(item));
    // Absent or scalar: only "exists": false (or $or branches made of it) can still match.
    return matchObject(undefined);
  };
};

/** Validate `pattern` and return a matcher. Throws InvalidEventPatternError on a malformed pattern. */
export const compileEventPattern = (pattern: unknown): EventMatcher => {
  if (!isPlainObject(pattern)) return invalid('', 'an event pattern is a JSON object');
  const test = compileObject(pattern, '');
  return (event) => test(event);
};

/** One-off match; compile once with `compileEventPattern` when matching many events. */
export const matchesEventPattern = (pattern: unknown, event: unknown): boolean =>
  compileEventPattern(pattern)(event);

const parsePattern = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidEventPatternError(`Filter pattern is not valid JSON: ${(error as Error).message}`);
  }
};

/**
 * Lambda filter criteria: a record passes when ANY filter matches (FilterCriteria.Filters are
 * ORed). An empty list lets everything through.
 */
export const compileFilterCriteria = (patterns: readonly unknown[]): EventMatcher => {
  const matchers = patterns.map((p) => compileEventPattern(typeof p === 'string' ? parsePattern(p) : p));
  return (event) => matchers.length === 0 || matchers.some((m) => m(event));
};
