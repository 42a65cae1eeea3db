import { describe, expect, it } from 'vitest';
import { checkEmulation, EMULATED_TYPES, NOT_EMULATED_TYPES } from '../../../src/local/emulation';
import { NotEmulatedError, type Template, templateSchema } from '../../../src/local/template';

const template = (resources: Record<string, unknown>): Template =>
  templateSchema.parse({ Resources: resources });

const at = (path: string) => ({ 'aws:cdk:path': path });

/** What checkEmulation threw, for assertions on the whole message. */
const problemsOf = (checked: Template): string => {
  try {
    checkEmulation(checked);
  } catch (error) {
    if (error instanceof NotEmulatedError) return error.message;
    throw error;
  }
  throw new Error('checkEmulation accepted the template');
};

describe('checkEmulation', () => {
  it('accepts emulated types with emulated and ignored properties, and lists the types read past, sorted', () => {
    // Prepare
    const checked = template({
      Queue: {
        Type: 'AWS::SQS::Queue',
        Properties: { QueueName: 'poison', MessageRetentionPeriod: 1_209_600, SqsManagedSseEnabled: true },
      },
      Role: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: {} } },
      Alarm: { Type: 'AWS::CloudWatch::Alarm', Properties: { Threshold: 1 } },
      OtherRole: { Type: 'AWS::IAM::Role', Properties: {} },
      Metadata: { Type: 'AWS::CDK::Metadata', Properties: { Analytics: 'v2' } },
    });

    // Act
    const plan = checkEmulation(checked);

    // Assess
    expect(plan.notEmulated).toEqual(['AWS::CDK::Metadata', 'AWS::CloudWatch::Alarm', 'AWS::IAM::Role']);
  });

  it('accepts an empty template, reading past nothing', () => {
    // Act
    const plan = checkEmulation(template({}));

    // Assess
    expect(plan.notEmulated).toEqual([]);
  });

  it('rejects an unknown type, naming its logical id and construct path', () => {
    // Prepare
    const checked = template({
      Machine: {
        Type: 'AWS::StepFunctions::StateMachine',
        Properties: { Definition: {} },
        Metadata: at('Orders/Saga/Resource'),
      },
    });

    // Act
    const checking = () => checkEmulation(checked);

    // Assess
    expect(checking).toThrow(NotEmulatedError);
    expect(checking).toThrow(
      'AWS::StepFunctions::StateMachine Machine (Orders/Saga/Resource): resource type not emulated',
    );
  });

  it('rejects a property of an emulated type that is neither emulated nor ignored', () => {
    // Prepare
    const checked = template({
      Queue: {
        Type: 'AWS::SQS::Queue',
        Properties: { QueueName: 'q', FifoQueue: true },
        Metadata: at('Orders/Queue/Resource'),
      },
    });

    // Act
    const checking = () => checkEmulation(checked);

    // Assess
    expect(checking).toThrow(
      'AWS::SQS::Queue Queue (Orders/Queue/Resource): property FifoQueue not emulated',
    );
  });

  it('lists every problem of the template in one error: types, properties and conditions', () => {
    // Prepare
    const checked = template({
      Queue: {
        Type: 'AWS::SQS::Queue',
        Properties: { QueueName: 'q', FifoQueue: true, VisibilityTimeout: 30 },
        Metadata: at('Orders/Queue/Resource'),
      },
      Machine: {
        Type: 'AWS::StepFunctions::StateMachine',
        Properties: {},
        Metadata: at('Orders/Saga/Resource'),
      },
      ProdOnly: {
        Type: 'AWS::SNS::Topic',
        Condition: 'IsProd',
        Properties: {},
        Metadata: at('Orders/Alarms/Topic/Resource'),
      },
      Fine: { Type: 'AWS::Events::EventBus', Properties: { Name: 'orders' } },
    });

    // Act
    const message = problemsOf(checked);

    // Assess
    expect(message).toBe(
      [
        'The template uses what the offline runtime cannot run:',
        '  AWS::SQS::Queue Queue (Orders/Queue/Resource): property FifoQueue not emulated',
        '  AWS::SQS::Queue Queue (Orders/Queue/Resource): property VisibilityTimeout not emulated',
        '  AWS::StepFunctions::StateMachine Machine (Orders/Saga/Resource): resource type not emulated',
        '  AWS::SNS::Topic ProdOnly (Orders/Alarms/Topic/Resource): conditions are not emulated',
      ].join('\n'),
    );
  });

  it('names a resource without a construct path as such', () => {
    // Prepare
    const checked = template({ Thing: { Type: 'Custom::Thing', Properties: {} } });

    // Act
    const message = problemsOf(checked);

    // Assess
    expect(message).toContain('Custom::Thing Thing ((no construct path)): resource type not emulated');
  });
});

describe('the emulation tables', () => {
  it('never list a type both as emulated and as not emulated', () => {
    // Act
    const both = Object.keys(EMULATED_TYPES).filter((type) => type in NOT_EMULATED_TYPES);

    // Assess
    expect(both).toEqual([]);
  });

  it('never list a property both as emulated and as ignored, and give every ignored property a reason', () => {
    // Act
    const conflicts = Object.entries(EMULATED_TYPES).flatMap(([type, support]) =>
      support.emulated.filter((property) => property in support.ignored).map((p) => `${type}.${p}`),
    );
    const unexplained = Object.entries(EMULATED_TYPES).flatMap(([type, support]) =>
      Object.entries(support.ignored)
        .filter(([, reason]) => reason.trim() === '')
        .map(([property]) => `${type}.${property}`),
    );

    // Assess
    expect(conflicts).toEqual([]);
    expect(unexplained).toEqual([]);
  });
});
