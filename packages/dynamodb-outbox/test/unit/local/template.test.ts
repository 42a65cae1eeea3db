// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Fn::Sub strings are written as CloudFormation spells them.
import { describe, expect, it } from 'vitest';
import {
  constructPath,
  describeResource,
  LOCAL_ACCOUNT,
  type Names,
  NotEmulatedError,
  type ResolveContext,
  referencedId,
  resolveValue,
  templateSchema,
} from '../../../src/local/template';

const refs: Record<string, string> = { Table: 'orders', Bus: 'orders-bus', Queue: 'http://sqs/poison' };
const atts: Record<string, string> = {
  'Table.Arn': 'arn:aws:dynamodb:us-east-1:000000000000:table/orders',
  'Table.StreamArn': 'local-stream:orders',
  'Queue.Arn': 'arn:aws:sqs:us-east-1:000000000000:poison',
};
const names: Names = { ref: (id) => refs[id], getAtt: (id, attribute) => atts[`${id}.${attribute}`] };
const ctx: ResolveContext = {
  names,
  region: 'eu-west-1',
  stackName: 'Orders',
  at: 'AWS::Lambda::Function Relay (Orders/Relay/Resource)',
};

describe('resolveValue', () => {
  it('leaves values without intrinsics as they are, in arrays and objects', () => {
    // Prepare
    const value = { a: 'x', b: [1, true, null], c: { d: 'y' } };

    // Act
    const resolved = resolveValue(value, ctx);

    // Assess
    expect(resolved).toEqual(value);
  });

  it('resolves Ref of a resource to its local name', () => {
    // Act
    const resolved = resolveValue({ Ref: 'Table' }, ctx);

    // Assess
    expect(resolved).toBe('orders');
  });

  it.each([
    ['AWS::Region', 'eu-west-1'],
    ['AWS::AccountId', LOCAL_ACCOUNT],
    ['AWS::Partition', 'aws'],
    ['AWS::URLSuffix', 'amazonaws.com'],
    ['AWS::StackName', 'Orders'],
  ])('resolves the pseudo parameter %s to %s', (parameter, expected) => {
    // Act
    const resolved = resolveValue({ Ref: parameter }, ctx);

    // Assess
    expect(resolved).toBe(expected);
  });

  it('resolves Fn::GetAtt in its array and its dotted form', () => {
    // Act
    const fromArray = resolveValue({ 'Fn::GetAtt': ['Table', 'StreamArn'] }, ctx);
    const fromString = resolveValue({ 'Fn::GetAtt': 'Table.Arn' }, ctx);

    // Assess
    expect(fromArray).toBe('local-stream:orders');
    expect(fromString).toBe(atts['Table.Arn']);
  });

  it('joins Fn::Join parts, each resolved first', () => {
    // Act
    const resolved = resolveValue(
      { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Table', 'Arn'] }, '/index/', { Ref: 'AWS::Region' }]] },
      ctx,
    );

    // Assess
    expect(resolved).toBe(`${atts['Table.Arn']}/index/eu-west-1`);
  });

  it('selects an element of a resolved list with Fn::Select, and splits with Fn::Split', () => {
    // Act
    const selected = resolveValue(
      { 'Fn::Select': [5, { 'Fn::Split': [':', { 'Fn::GetAtt': ['Queue', 'Arn'] }] }] },
      ctx,
    );
    const split = resolveValue({ 'Fn::Split': [',', 'a,b,,c'] }, ctx);

    // Assess
    expect(selected).toBe('poison');
    expect(split).toEqual(['a', 'b', '', 'c']);
  });

  it('substitutes Fn::Sub names: resources, attributes, pseudo parameters and its own variables', () => {
    // Act
    const resolved = resolveValue(
      {
        'Fn::Sub': [
          '${Table}|${Table.StreamArn}|${AWS::AccountId}|${AWS::Region}|${Suffix}',
          { Suffix: { Ref: 'Bus' } },
        ],
      },
      ctx,
    );

    // Assess
    expect(resolved).toBe(`orders|local-stream:orders|${LOCAL_ACCOUNT}|eu-west-1|orders-bus`);
  });

  it('keeps ${!Literal} in Fn::Sub as the literal ${Literal}', () => {
    // Act
    const resolved = resolveValue({ 'Fn::Sub': 'echo ${!HOME} in ${AWS::StackName}' }, ctx);

    // Assess
    expect(resolved).toBe('echo ${HOME} in Orders');
  });

  it('resolves intrinsics nested in each other: Fn::Join of Fn::Sub of Fn::Select', () => {
    // Prepare
    const value = {
      'Fn::Join': [
        '-',
        [
          { 'Fn::Sub': ['${Name}.${Table.Arn}', { Name: { 'Fn::Select': [1, ['a', { Ref: 'Queue' }]] } }] },
          { 'Fn::Sub': '${!Kept}' },
        ],
      ],
    };

    // Act
    const resolved = resolveValue(value, ctx);

    // Assess
    expect(resolved).toBe(`http://sqs/poison.${atts['Table.Arn']}-\${Kept}`);
  });

  it('resolves the intrinsics inside an object, leaving the rest of it', () => {
    // Act
    const resolved = resolveValue(
      { Variables: { TABLE_NAME: { Ref: 'Table' }, STAGE: 'dev' }, Timeout: 30 },
      ctx,
    );

    // Assess
    expect(resolved).toEqual({ Variables: { TABLE_NAME: 'orders', STAGE: 'dev' }, Timeout: 30 });
  });

  it.each([
    ['an unknown intrinsic', { 'Fn::If': ['IsProd', 'a', 'b'] }, 'Fn::If'],
    ['a Ref to nothing the runtime knows', { Ref: 'SomeParameter' }, 'Ref SomeParameter'],
    [
      'an attribute the runtime does not give',
      { 'Fn::GetAtt': ['Table', 'StreamLabel'] },
      'Table.StreamLabel',
    ],
    ['an unknown name in Fn::Sub', { 'Fn::Sub': 'x-${Missing}' }, 'Ref Missing'],
    ['an unknown attribute in Fn::Sub', { 'Fn::Sub': '${Queue.Url}' }, 'Fn::GetAtt Queue.Url'],
    [
      'an unknown intrinsic deep in a value',
      { A: [{ B: { 'Fn::ImportValue': 'Shared' } }] },
      'Fn::ImportValue',
    ],
  ])('rejects %s with a NotEmulatedError naming where and what', (_, value, what) => {
    // Act
    const resolving = () => resolveValue(value, ctx);

    // Assess
    expect(resolving).toThrow(NotEmulatedError);
    expect(resolving).toThrow(`${ctx.at}: `);
    expect(resolving).toThrow(what);
  });
});

describe('referencedId', () => {
  it.each([
    [{ Ref: 'Fn' }, 'Fn'],
    [{ 'Fn::GetAtt': ['Fn', 'Arn'] }, 'Fn'],
    [{ 'Fn::GetAtt': 'Fn.Arn' }, 'Fn'],
    ['arn:aws:lambda:us-east-1:000000000000:function:x', undefined],
    [{ 'Fn::Join': ['', ['a']] }, undefined],
    [null, undefined],
  ])('of %j is %s', (value, expected) => {
    // Act
    const id = referencedId(value);

    // Assess
    expect(id).toBe(expected);
  });
});

describe('templateSchema and construct paths', () => {
  it('defaults missing Properties to none, and describes a resource by type, logical id and construct path', () => {
    // Prepare
    const template = templateSchema.parse({
      Resources: {
        Queue: { Type: 'AWS::SQS::Queue', Metadata: { 'aws:cdk:path': 'Orders/Poison/Resource' } },
        Bare: { Type: 'AWS::SQS::Queue' },
      },
    });
    const { Queue, Bare } = template.Resources;
    if (!Queue || !Bare) throw new Error('resources missing');

    // Act
    const described = describeResource('Queue', Queue);

    // Assess
    expect(Queue.Properties).toEqual({});
    expect(described).toBe('AWS::SQS::Queue Queue (Orders/Poison/Resource)');
    expect(constructPath(Bare)).toBe('(no construct path)');
  });
});
