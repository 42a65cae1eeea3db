import { describe, expect, it } from 'vitest';
import { inventorySubscription } from '../../../lambdas/inventory/subscription';
import {
  compileEventPattern,
  compileFilterCriteria,
  InvalidEventPatternError,
  matchesEventPattern,
} from '../../../packages/dynamodb-outbox/src/local/event-pattern';
import { relayFilterPattern } from '../../../packages/dynamodb-outbox/src/runtime/layout';
import { ordersOutboxLayout } from '../../../packages/dynamodb-outbox/test/support/sample-table';

// Patterns and events below are the examples of the EventBridge user guide ("Creating event
// patterns", "Comparison operators", "Content filtering", "Arrays in event patterns").
const ec2Event = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: { 'instance-id': 'i-1234567890abcdef0', state: 'terminated' },
};

const withDetail = (detail: Record<string, unknown>) => ({ ...ec2Event, detail });

describe('event pattern: exact matching', () => {
  it('matches the documented EC2 termination pattern, field by field (AND)', () => {
    // Prepare
    const pattern = {
      source: ['aws.ec2'],
      'detail-type': ['EC2 Instance State-change Notification'],
      detail: { state: ['terminated'] },
    };
    // Act
    const matches = compileEventPattern(pattern);
    // Assess
    expect(matches(ec2Event)).toBe(true);
    expect(matches(withDetail({ state: 'running' }))).toBe(false);
    expect(matches({ ...ec2Event, source: 'aws.s3' })).toBe(false);
  });

  it('treats the values of an array as OR', () => {
    const pattern = { source: ['aws.ec2', 'aws.fargate'] };
    expect(matchesEventPattern(pattern, { source: 'aws.fargate' })).toBe(true);
    expect(matchesEventPattern(pattern, { source: 'aws.ec2' })).toBe(true);
    expect(matchesEventPattern(pattern, { source: 'aws.s3' })).toBe(false);
  });

  it('requires every field of the pattern to be present in the event', () => {
    expect(matchesEventPattern({ detail: { 'c-count': [5] } }, ec2Event)).toBe(false);
  });

  it('is case sensitive and does not coerce types', () => {
    expect(matchesEventPattern({ source: ['AWS.EC2'] }, ec2Event)).toBe(false);
    expect(matchesEventPattern({ detail: { count: ['5'] } }, { detail: { count: 5 } })).toBe(false);
    expect(matchesEventPattern({ detail: { count: [5] } }, { detail: { count: 5.0 } })).toBe(true);
  });

  it('matches booleans, null and empty strings exactly', () => {
    expect(matchesEventPattern({ detail: { enabled: [true] } }, { detail: { enabled: true } })).toBe(true);
    expect(matchesEventPattern({ detail: { enabled: [true] } }, { detail: { enabled: 'true' } })).toBe(false);
    // "Matching on null values and empty strings": null is not the same as a missing field.
    expect(matchesEventPattern({ UserID: [null] }, { UserID: null })).toBe(true);
    expect(matchesEventPattern({ UserID: [null] }, {})).toBe(false);
    expect(matchesEventPattern({ LastName: [''] }, { LastName: '' })).toBe(true);
    expect(matchesEventPattern({ LastName: [''] }, { LastName: 'Doe' })).toBe(false);
  });

  it('matches an event array when any element matches (arrays in event patterns)', () => {
    // Prepare
    const pattern = {
      resources: [
        'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
        'arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f',
      ],
    };
    const event = {
      resources: [
        'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
        'arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f',
      ],
    };
    // Act + Assess
    expect(matchesEventPattern(pattern, event)).toBe(true);
    expect(matchesEventPattern(pattern, { resources: ['arn:aws:ec2:us-east-1:0:instance/x'] })).toBe(false);
  });

  it('matches nested patterns against one element of an array of objects at a time', () => {
    const pattern = { detail: { lines: { sku: ['A'], quantity: [2] } } };
    const sameElement = {
      detail: {
        lines: [
          { sku: 'B', quantity: 1 },
          { sku: 'A', quantity: 2 },
        ],
      },
    };
    const acrossElements = {
      detail: {
        lines: [
          { sku: 'A', quantity: 1 },
          { sku: 'B', quantity: 2 },
        ],
      },
    };
    expect(matchesEventPattern(pattern, sameElement)).toBe(true);
    expect(matchesEventPattern(pattern, acrossElements)).toBe(false);
  });
});

describe('event pattern: prefix and suffix', () => {
  it('prefix: "time" starting with 2017-10-02', () => {
    const pattern = { time: [{ prefix: '2017-10-02' }] };
    expect(matchesEventPattern(pattern, { time: '2017-10-02T18:43:48Z' })).toBe(true);
    expect(matchesEventPattern(pattern, { time: '2017-10-03T18:43:48Z' })).toBe(false);
  });

  it('prefix with equals-ignore-case: service starting with EventB in any case', () => {
    const pattern = { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } };
    expect(matchesEventPattern(pattern, { detail: { service: 'EventBridge' } })).toBe(true);
    expect(matchesEventPattern(pattern, { detail: { service: 'EVENTBRIDGE' } })).toBe(true);
    expect(matchesEventPattern(pattern, { detail: { service: 'eventb' } })).toBe(true);
    expect(matchesEventPattern(pattern, { detail: { service: 'Lambda' } })).toBe(false);
  });

  it('suffix: FileName ending with .png', () => {
    const pattern = { FileName: [{ suffix: '.png' }] };
    expect(matchesEventPattern(pattern, { FileName: 'image.png' })).toBe(true);
    expect(matchesEventPattern(pattern, { FileName: 'image.PNG' })).toBe(false);
  });

  it('suffix with equals-ignore-case: .png or .PNG', () => {
    const pattern = { detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } };
    expect(matchesEventPattern(pattern, { detail: { FileName: 'image.PNG' } })).toBe(true);
    expect(matchesEventPattern(pattern, { detail: { FileName: 'image.Png' } })).toBe(true);
    expect(matchesEventPattern(pattern, { detail: { FileName: 'image.jpg' } })).toBe(false);
  });

  it('only applies string operators to strings', () => {
    expect(matchesEventPattern({ code: [{ prefix: '12' }] }, { code: 123 })).toBe(false);
  });
});

describe('event pattern: anything-but', () => {
  it('excludes a string, a number, a list of strings and a list of numbers', () => {
    const notInitializing = { detail: { state: [{ 'anything-but': 'initializing' }] } };
    expect(matchesEventPattern(notInitializing, withDetail({ state: 'running' }))).toBe(true);
    expect(matchesEventPattern(notInitializing, withDetail({ state: 'initializing' }))).toBe(false);

    const not123 = { detail: { 'x-limit': [{ 'anything-but': 123 }] } };
    expect(matchesEventPattern(not123, withDetail({ 'x-limit': 456 }))).toBe(true);
    expect(matchesEventPattern(not123, withDetail({ 'x-limit': 123 }))).toBe(false);

    const notStoppedOrOverloaded = { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } };
    expect(matchesEventPattern(notStoppedOrOverloaded, withDetail({ state: 'running' }))).toBe(true);
    expect(matchesEventPattern(notStoppedOrOverloaded, withDetail({ state: 'overloaded' }))).toBe(false);

    const notHundreds = { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } };
    expect(matchesEventPattern(notHundreds, withDetail({ 'x-limit': 150 }))).toBe(true);
    expect(matchesEventPattern(notHundreds, withDetail({ 'x-limit': 200 }))).toBe(false);
  });

  it('excludes a prefix: anything but sources starting with "aws."', () => {
    const pattern = { source: [{ 'anything-but': { prefix: 'aws.' } }] };
    expect(matchesEventPattern(pattern, { source: 'orders' })).toBe(true);
    expect(matchesEventPattern(pattern, { source: 'aws.ec2' })).toBe(false);
  });

  it('excludes a suffix: FileName not ending with .png', () => {
    const pattern = { FileName: [{ 'anything-but': { suffix: '.png' } }] };
    expect(matchesEventPattern(pattern, { FileName: 'notes.txt' })).toBe(true);
    expect(matchesEventPattern(pattern, { FileName: 'image.png' })).toBe(false);
  });

  it('excludes ignoring case, one value or a list', () => {
    const one = { state: [{ 'anything-but': { 'equals-ignore-case': 'initializing' } }] };
    expect(matchesEventPattern(one, { state: 'INITIALIZING' })).toBe(false);
    expect(matchesEventPattern(one, { state: 'running' })).toBe(true);
    const list = { state: [{ 'anything-but': { 'equals-ignore-case': ['Stopped', 'overloaded'] } }] };
    expect(matchesEventPattern(list, { state: 'STOPPED' })).toBe(false);
    expect(matchesEventPattern(list, { state: 'running' })).toBe(true);
  });

  it('excludes a wildcard: FilePath not containing /lib/', () => {
    const pattern = { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] };
    expect(matchesEventPattern(pattern, { FilePath: '/usr/lib/x.so' })).toBe(false);
    expect(matchesEventPattern(pattern, { FilePath: '/usr/bin/x' })).toBe(true);
    const list = { FilePath: [{ 'anything-but': { wildcard: ['*/lib/*', '*.tmp'] } }] };
    expect(matchesEventPattern(list, { FilePath: '/var/a.tmp' })).toBe(false);
  });

  it('does not match a missing field', () => {
    expect(matchesEventPattern({ state: [{ 'anything-but': 'x' }] }, {})).toBe(false);
  });
});

describe('event pattern: numeric', () => {
  const pattern = {
    detail: {
      'c-count': [{ numeric: ['>', 0, '<=', 5] }],
      'd-count': [{ numeric: ['<', 10] }],
      'x-limit': [{ numeric: ['=', 3.018e2] }],
    },
  };

  it('matches only when every range holds (the documented example)', () => {
    expect(matchesEventPattern(pattern, withDetail({ 'c-count': 5, 'd-count': 9, 'x-limit': 301.8 }))).toBe(
      true,
    );
    expect(matchesEventPattern(pattern, withDetail({ 'c-count': 0, 'd-count': 9, 'x-limit': 301.8 }))).toBe(
      false,
    );
    expect(matchesEventPattern(pattern, withDetail({ 'c-count': 5, 'd-count': 10, 'x-limit': 301.8 }))).toBe(
      false,
    );
    expect(matchesEventPattern(pattern, withDetail({ 'c-count': 5, 'd-count': 9, 'x-limit': 301 }))).toBe(
      false,
    );
  });

  it('only compares JSON numbers', () => {
    expect(matchesEventPattern({ n: [{ numeric: ['>', 1] }] }, { n: '5' })).toBe(false);
    expect(matchesEventPattern({ n: [{ numeric: ['>=', 1] }] }, { n: 1 })).toBe(true);
  });
});

describe('event pattern: exists', () => {
  it('exists: false matches a missing leaf, and a field that is not a leaf', () => {
    const pattern = { detail: { 'c-count': [{ exists: false }] } };
    const missing = {
      'detail-type': ['EC2 Instance State-change Notification'],
      detail: { state: ['initializing', 'running'] },
    };
    const notLeaf = { ...missing, detail: { ...missing.detail, 'c-count': { c1: 100 } } };
    expect(matchesEventPattern(pattern, missing)).toBe(true);
    expect(matchesEventPattern(pattern, notLeaf)).toBe(true);
    expect(matchesEventPattern(pattern, { detail: { 'c-count': 3 } })).toBe(false);
  });

  it('exists: true selects events that have the field', () => {
    const pattern = { detail: { description: [{ exists: true }] } };
    expect(matchesEventPattern(pattern, { detail: { description: 'text' } })).toBe(true);
    expect(matchesEventPattern(pattern, { detail: {} })).toBe(false);
    expect(matchesEventPattern(pattern, {})).toBe(false);
  });
});

describe('event pattern: equals-ignore-case, wildcard, cidr', () => {
  it('equals-ignore-case', () => {
    const pattern = { detail: { name: [{ 'equals-ignore-case': 'alice' }] } };
    expect(matchesEventPattern(pattern, { detail: { name: 'ALICE' } })).toBe(true);
    expect(matchesEventPattern(pattern, { detail: { name: 'Alicia' } })).toBe(false);
  });

  it('wildcard: * matches any run of characters, \\* is a literal star', () => {
    const arn = { EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:*:event-bus/*' }] };
    expect(
      matchesEventPattern(arn, { EventBusArn: 'arn:aws:events:us-east-1:123456789012:event-bus/orders' }),
    ).toBe(true);
    expect(
      matchesEventPattern(arn, { EventBusArn: 'arn:aws:events:eu-west-1:123456789012:event-bus/x' }),
    ).toBe(false);
    const png = { FileName: [{ wildcard: '*.png' }] };
    expect(matchesEventPattern(png, { FileName: 'a.png' })).toBe(true);
    expect(matchesEventPattern(png, { FileName: 'a.pngx' })).toBe(false);
    const literalStar = { note: [{ wildcard: 'a\\*b' }] };
    expect(matchesEventPattern(literalStar, { note: 'a*b' })).toBe(true);
    expect(matchesEventPattern(literalStar, { note: 'axxb' })).toBe(false);
  });

  it('cidr: IPv4 and IPv6 blocks', () => {
    const v4 = { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } };
    expect(matchesEventPattern(v4, { detail: { sourceIPAddress: '10.0.0.255' } })).toBe(true);
    expect(matchesEventPattern(v4, { detail: { sourceIPAddress: '10.0.1.1' } })).toBe(false);
    expect(matchesEventPattern(v4, { detail: { sourceIPAddress: 'not-an-ip' } })).toBe(false);
    const v6 = { ip: [{ cidr: '2001:db8::/32' }] };
    expect(matchesEventPattern(v6, { ip: '2001:db8::1' })).toBe(true);
    expect(matchesEventPattern(v6, { ip: '2001:db9::1' })).toBe(false);
  });
});

describe('event pattern: $or', () => {
  it('matches when any alternative matches (documented numeric example)', () => {
    const pattern = {
      detail: {
        $or: [
          { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] },
          { 'd-count': [{ numeric: ['<', 10] }] },
          { 'x-limit': [{ numeric: ['=', 3.018e2] }] },
        ],
      },
    };
    expect(matchesEventPattern(pattern, { detail: { 'c-count': 50, 'd-count': 3 } })).toBe(true);
    expect(matchesEventPattern(pattern, { detail: { 'x-limit': 301.8 } })).toBe(true);
    expect(matchesEventPattern(pattern, { detail: { 'c-count': 50, 'd-count': 30 } })).toBe(false);
  });

  it('combines with other fields at the same level (source AND (metricName OR namespace))', () => {
    const pattern = {
      source: ['aws.cloudwatch'],
      $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/EC2', 'AWS/ES'] }],
    };
    expect(matchesEventPattern(pattern, { source: 'aws.cloudwatch', namespace: 'AWS/EC2' })).toBe(true);
    expect(matchesEventPattern(pattern, { source: 'aws.cloudwatch', metricName: 'ReadLatency' })).toBe(true);
    expect(matchesEventPattern(pattern, { source: 'aws.ec2', metricName: 'ReadLatency' })).toBe(false);
    expect(matchesEventPattern(pattern, { source: 'aws.cloudwatch', metricName: 'Other' })).toBe(false);
  });
});

describe('event pattern: validation', () => {
  it.each([
    ['a pattern that is not an object', ['x']],
    ['a leaf that is not an array', { source: 'aws.ec2' }],
    ['an empty leaf array', { source: [] }],
    ['an unknown operator', { source: [{ 'starts-with': 'aws' }] }],
    ['two operators in one object', { source: [{ prefix: 'a', suffix: 'b' }] }],
    ['consecutive wildcards', { f: [{ wildcard: 'a**b' }] }],
    ['a numeric range written backwards', { n: [{ numeric: ['<', 5, '>', 1] }] }],
    ['an unknown numeric operator', { n: [{ numeric: ['!=', 5] }] }],
    ['a mixed anything-but list', { n: [{ 'anything-but': ['a', 1] }] }],
    ['a malformed cidr', { ip: [{ cidr: '10.0.0.0' }] }],
    ['$or with one alternative', { $or: [{ a: ['b'] }] }],
    ['exists with a non-boolean', { a: [{ exists: 'yes' }] }],
  ])('rejects %s', (_label, pattern) => {
    expect(() => compileEventPattern(pattern)).toThrow(InvalidEventPatternError);
  });

  it('accepts the subscriptions the stack deploys', () => {
    expect(() => compileEventPattern(inventorySubscription('orders').eventPattern)).not.toThrow();
  });
});

describe('Lambda filter criteria (DynamoDB stream records)', () => {
  const record = (eventName: string, sk: string) => ({
    eventName,
    eventSource: 'aws:dynamodb',
    dynamodb: { Keys: { PK: { S: 'ORDER#01J' }, SK: { S: sk } }, NewImage: { PK: { S: 'ORDER#01J' } } },
  });

  it('lets only INSERTs of outbox items through the relay filter', () => {
    // Prepare
    const passes = compileFilterCriteria([relayFilterPattern(ordersOutboxLayout)]);
    // Act + Assess
    expect(passes(record('INSERT', 'OUTBOX#0000000001'))).toBe(true);
    expect(passes(record('INSERT', 'ORDER'))).toBe(false);
    expect(passes(record('MODIFY', 'OUTBOX#0000000001'))).toBe(false);
    expect(passes(record('REMOVE', 'OUTBOX#0000000001'))).toBe(false);
  });

  it('ORs the filters, accepts JSON strings as deployed, and passes everything without filters', () => {
    const passes = compileFilterCriteria([
      JSON.stringify({ eventName: ['MODIFY'] }),
      relayFilterPattern(ordersOutboxLayout),
    ]);
    expect(passes(record('MODIFY', 'ORDER'))).toBe(true);
    expect(passes(record('REMOVE', 'ORDER'))).toBe(false);
    expect(compileFilterCriteria([])(record('REMOVE', 'ORDER'))).toBe(true);
    expect(() => compileFilterCriteria(['{not json'])).toThrow(InvalidEventPatternError);
  });
});
