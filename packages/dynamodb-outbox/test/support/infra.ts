import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type AppProps, Stack } from 'aws-cdk-lib';
import { Match, Matcher, MatchResult, type Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { expect } from 'vitest';

/*
 * Helpers shared by the infra tests: apps that clean up after themselves, the outbox functions'
 * settings JSON read back out of a template, and the exact grants of a role.
 */

const outdirs: string[] = [];

/**
 * An app that skips bundling and synthesizes into a directory of its own, removed by
 * `removeTestApps` (register it with `afterAll`): no `cdk.out*` is left in the temp folder.
 */
export const testApp = (props: Omit<AppProps, 'outdir'> = {}): App => {
  const outdir = mkdtempSync(join(tmpdir(), 'outbox-infra-'));
  outdirs.push(outdir);
  return new App({ ...props, outdir, context: { 'aws:cdk:bundling-stacks': [], ...props.context } });
};

export const removeTestApps = (): void => {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
};

/**
 * A construct's logical id in its stack, never typed by hand. An optional construct the test
 * expects to exist (`consumer.idempotencyTable`) fails the test here when it does not.
 */
export const logicalIdOf = (construct: IConstruct | undefined): string => {
  if (construct === undefined) throw new Error('expected a construct, found none');
  const stack = Stack.of(construct);
  const resource = construct.node.defaultChild ?? construct;
  return stack.getLogicalId(resource as never);
};

export const refOf = (construct: IConstruct | undefined) => ({ Ref: logicalIdOf(construct) });
export const arnOf = (construct: IConstruct | undefined) => ({
  'Fn::GetAtt': [logicalIdOf(construct), 'Arn'],
});

/**
 * How a CloudFormation token embedded in a settings JSON reads once the `Fn::Join` is resolved by
 * `settingsOf`: `<Ref:Id>`, `<GetAtt:Id.Attr>`, or the intrinsic's JSON without quotes.
 */
export const tokenMarker = (intrinsic: unknown): string => {
  const value = intrinsic as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  if (typeof value.Ref === 'string') return `<Ref:${value.Ref}>`;
  if (Array.isArray(value['Fn::GetAtt'])) return `<GetAtt:${value['Fn::GetAtt'].join('.')}>`;
  return `<${JSON.stringify(intrinsic).replace(/["\\]/g, '')}>`;
};

/** The marker a token of `stack` (a table name, a bus name, a queue URL) reads as in `settingsOf`. */
export const markerOf = (stack: Stack, token: string): string => tokenMarker(stack.resolve(token));

/** The marker of a construct's `Ref` (table name, bus name, queue URL). */
export const refMarkerOf = (construct: IConstruct | undefined): string => tokenMarker(refOf(construct));

/**
 * An environment value as the function will read it: a plain string as is, an `Fn::Join` joined
 * with every token replaced by its marker (`tokenMarker`).
 */
export const resolveJoin = (value: unknown): string => {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) return tokenMarker(value);
  const [separator, parts] = join;
  return parts.map((part) => (typeof part === 'string' ? part : tokenMarker(part))).join(separator);
};

/** The settings object a contract's environment variable carries, tokens as markers. */
export const parseSettings = (value: unknown): Record<string, unknown> =>
  JSON.parse(resolveJoin(value)) as Record<string, unknown>;

/**
 * A matcher for an environment value holding settings JSON: resolves it (`parseSettings`) and
 * matches the object with `pattern` (a plain object is `Match.objectLike`). Use it inside
 * `hasResourceProperties`:
 * `Environment: { Variables: Match.objectLike({ OUTBOX_RELAY_SETTINGS: settingsLike({ source: 'orders' }) }) }`.
 */
export const settingsLike = (pattern: Record<string, unknown> | Matcher): Matcher =>
  new SettingsMatcher(pattern);

class SettingsMatcher extends Matcher {
  readonly name = 'settingsLike';
  private readonly inner: Matcher;

  constructor(pattern: Record<string, unknown> | Matcher) {
    super();
    this.inner = Matcher.isMatcher(pattern) ? pattern : Match.objectLike(pattern);
  }

  test(actual: unknown): MatchResult {
    let settings: Record<string, unknown>;
    try {
      settings = parseSettings(actual);
    } catch (error) {
      return new MatchResult(actual).recordFailure({
        matcher: this,
        path: [],
        message: `Expected settings JSON (a string or an Fn::Join), got ${JSON.stringify(actual)}: ${String(error)}`,
      });
    }
    return this.inner.test(settings);
  }
}

/** Assert `actual` against a `Match` pattern, with CDK's description of the mismatch. */
export const expectMatch = (actual: unknown, pattern: unknown): void => {
  const matcher = Matcher.isMatcher(pattern) ? pattern : Match.objectLike(pattern as Record<string, unknown>);
  const result = matcher.test(actual);
  expect(result.hasFailed() ? result.renderMismatch() : '').toBe('');
};

type FunctionResource = {
  Properties: { Role?: unknown; Environment?: { Variables?: Record<string, unknown> } };
};

/** The environment variables of a function of the template. */
export const environmentOf = (template: Template, fn: IConstruct): Record<string, unknown> => {
  const resource = template.toJSON().Resources[logicalIdOf(fn)] as FunctionResource | undefined;
  if (!resource) throw new Error(`No function ${fn.node.path} in the template`);
  return resource.Properties.Environment?.Variables ?? {};
};

/** The settings a function reads from `variable`, tokens as markers. */
export const settingsOf = (template: Template, fn: IConstruct, variable: string): Record<string, unknown> => {
  const value = environmentOf(template, fn)[variable];
  if (value === undefined) throw new Error(`${fn.node.path} has no ${variable}`);
  return parseSettings(value);
};

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
type PolicyDocument = { Statement: Statement[] };

export interface Permission {
  readonly action: string;
  readonly resource: unknown;
}

/**
 * Every action a role grants, inline or through policies attached to it, one row per action and
 * resource, sorted: compared whole, a test states the role's least privilege exactly.
 */
export const permissionsOf = (template: Template, role: IConstruct): Permission[] => {
  const roleId = logicalIdOf(role);
  const resources = template.toJSON().Resources as Record<
    string,
    { Type: string; Properties: Record<string, unknown> }
  >;
  const inline = (resources[roleId]?.Properties.Policies ?? []) as { PolicyDocument: PolicyDocument }[];
  const attached = Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((r) => (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === roleId))
    .map((r) => r.Properties.PolicyDocument as PolicyDocument);
  return [...inline.map((p) => p.PolicyDocument), ...attached]
    .flatMap((document) => document.Statement)
    .flatMap((s) => {
      expect(s.Effect).toBe('Allow');
      return [s.Action]
        .flat()
        .flatMap((action) => [s.Resource].flat().map((resource) => ({ action, resource })));
    })
    .sort(
      (a, b) =>
        a.action.localeCompare(b.action) ||
        JSON.stringify(a.resource).localeCompare(JSON.stringify(b.resource)),
    );
};

/** The grants every PowertoolsFunction has: its own log group, and X-Ray. */
export const baseGrantsOf = (logGroup: IConstruct): Permission[] => [
  { action: 'logs:CreateLogStream', resource: arnOf(logGroup) },
  { action: 'logs:PutLogEvents', resource: arnOf(logGroup) },
  { action: 'xray:PutTelemetryRecords', resource: '*' },
  { action: 'xray:PutTraceSegments', resource: '*' },
];

/** `grants` merged with `baseGrantsOf(logGroup)`, sorted as `permissionsOf` sorts. */
export const withBaseGrants = (logGroup: IConstruct, grants: readonly Permission[]): Permission[] =>
  [...grants, ...baseGrantsOf(logGroup)].sort(
    (a, b) =>
      a.action.localeCompare(b.action) ||
      JSON.stringify(a.resource).localeCompare(JSON.stringify(b.resource)),
  );

/** Alarm names of the template, sorted. */
export const alarmNamesOf = (template: Template): string[] =>
  Object.values(template.findResources('AWS::CloudWatch::Alarm'))
    .map((alarm) => String(alarm.Properties.AlarmName))
    .sort();

/** What the relay may do on its failure bucket: write objects (and list, as Lambda asks). */
export const failureBucketGrants = (bucket: IConstruct): Permission[] => [
  { action: 's3:ListBucket', resource: arnOf(bucket) },
  { action: 's3:PutObject', resource: { 'Fn::Join': ['', [arnOf(bucket), '/*']] } },
];
