import * as z from 'zod';

/**
 * A synthesized CloudFormation template, and the intrinsic functions the offline runtime
 * resolves in it: Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select and the pseudo parameters.
 */
export const resourceSchema = z.object({
  Type: z.string(),
  Properties: z.record(z.string(), z.unknown()).default({}),
  Metadata: z.record(z.string(), z.unknown()).optional(),
  Condition: z.string().optional(),
});

export const templateSchema = z.object({
  Resources: z.record(z.string(), resourceSchema),
  Outputs: z
    .record(z.string(), z.object({ Value: z.unknown(), Description: z.string().optional() }))
    .optional(),
});

export type Resource = z.infer<typeof resourceSchema>;
export type Template = z.infer<typeof templateSchema>;

/** Start-up stops on what the runtime cannot run as deployed: the message names it. */
export class NotEmulatedError extends Error {
  override readonly name = 'NotEmulatedError';
}

/** The construct path CDK records for a resource, for messages. */
export const constructPath = (resource: Resource): string => {
  const path = resource.Metadata?.['aws:cdk:path'];
  return typeof path === 'string' ? path : '(no construct path)';
};

export const describeResource = (logicalId: string, resource: Resource): string =>
  `${resource.Type} ${logicalId} (${constructPath(resource)})`;

/** What `Ref` and `Fn::GetAtt` of each resource resolve to offline. */
export interface Names {
  ref(logicalId: string): string | undefined;
  getAtt(logicalId: string, attribute: string): string | undefined;
}

export const LOCAL_ACCOUNT = '000000000000';

const PSEUDO = (region: string, stackName: string): Record<string, string> => ({
  'AWS::Region': region,
  'AWS::AccountId': LOCAL_ACCOUNT,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': stackName,
  'AWS::NoValue': '',
});

export interface ResolveContext {
  readonly names: Names;
  readonly region: string;
  readonly stackName: string;
  /** For messages: where the value is. */
  readonly at: string;
}

const fail = (ctx: ResolveContext, what: string): never => {
  throw new NotEmulatedError(`${ctx.at}: ${what} cannot be resolved offline`);
};

const refOf = (name: string, ctx: ResolveContext): string => {
  const pseudo = PSEUDO(ctx.region, ctx.stackName)[name];
  if (pseudo !== undefined) return pseudo;
  return ctx.names.ref(name) ?? fail(ctx, `Ref ${name}`);
};

const getAttOf = (logicalId: string, attribute: string, ctx: ResolveContext): string =>
  ctx.names.getAtt(logicalId, attribute) ?? fail(ctx, `Fn::GetAtt ${logicalId}.${attribute}`);

/** `value` with every intrinsic function replaced by its local value. */
export const resolveValue = (value: unknown, ctx: ResolveContext): unknown => {
  if (Array.isArray(value)) return value.map((v) => resolveValue(v, ctx));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const [key, arg] = entries[0] ?? [];
  if (entries.length === 1 && key !== undefined && (key === 'Ref' || key.startsWith('Fn::'))) {
    switch (key) {
      case 'Ref':
        return refOf(String(arg), ctx);
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = Array.isArray(arg) ? arg : String(arg).split('.');
        return getAttOf(String(logicalId), String(attribute), ctx);
      }
      case 'Fn::Join': {
        const [separator, parts] = arg as [string, unknown[]];
        return (resolveValue(parts, ctx) as unknown[]).map(String).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = arg as [unknown, unknown];
        return (resolveValue(list, ctx) as unknown[])[Number(resolveValue(index, ctx))];
      }
      case 'Fn::Split': {
        const [separator, source] = arg as [string, unknown];
        return String(resolveValue(source, ctx)).split(separator);
      }
      case 'Fn::Sub': {
        const [text, variables] = (Array.isArray(arg) ? arg : [arg, {}]) as [string, Record<string, unknown>];
        return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
          if (name.startsWith('!')) return `\${${name.slice(1)}}`;
          if (variables[name] !== undefined) return String(resolveValue(variables[name], ctx));
          const dot = name.indexOf('.');
          return dot > 0 ? getAttOf(name.slice(0, dot), name.slice(dot + 1), ctx) : refOf(name, ctx);
        });
      }
      default:
        return fail(ctx, key);
    }
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveValue(v, ctx)]));
};

/** The logical id a `Ref` or `Fn::GetAtt` points at, without resolving it. */
export const referencedId = (value: unknown): string | undefined => {
  if (value === null || typeof value !== 'object') return undefined;
  const ref = (value as { Ref?: unknown }).Ref;
  if (typeof ref === 'string') return ref;
  const getAtt = (value as { 'Fn::GetAtt'?: unknown })['Fn::GetAtt'];
  if (Array.isArray(getAtt)) return String(getAtt[0]);
  if (typeof getAtt === 'string') return getAtt.split('.')[0];
  return undefined;
};
