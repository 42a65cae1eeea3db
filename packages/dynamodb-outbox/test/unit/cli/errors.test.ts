import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import {
  GetQueueAttributesCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { failureMessage, runOutbox } from '../../../src/cli/main';
import { ordersOutboxLayout } from '../../support/sample-table';

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
const cloudFormation = mockClient(CloudFormationClient);

/** The CLI called as the dynamodb-outbox bin calls it, with what it prints captured. */
const outbox = async (args: string[], env: Record<string, string> = {}) => {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const status = await runOutbox(args, { log: (t) => stdout.push(t), error: (t) => stderr.push(t) }, env);
  return { status, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
};

/** The layout of a same-table outbox, as `--layout` takes it. */
const sameTable = JSON.stringify(ordersOutboxLayout);

/** An error as the SDK throws it for a service's answer. */
const serviceError = (name: string, message: string): Error =>
  Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: 400 } });

/** One line, no stack frames, no `Error:` prefix from Node: a message, not a crash. */
const expectOneLine = (stderr: string): void => {
  expect(stderr.split('\n')).toHaveLength(1);
  expect(stderr).toMatch(/^outbox: /);
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr).not.toMatch(/\b\w*Error:/);
  expect(stderr).not.toContain('$metadata');
};

describe('dynamodb-outbox: every error is one line naming what to fix', () => {
  beforeEach(() => {
    ddb.reset();
    sqs.reset();
    cloudFormation.reset();
    sqs.on(ListQueuesCommand).resolves({ QueueUrls: [] });
  });

  it.each([
    [['purge'], 'Unknown command "purge": use local, invoke, status, redrive or replay'],
    [['status', 'everything'], 'Unexpected arguments: everything'],
    [['status', '--verbose'], 'Unknown option --verbose (see --help)'],
    [['status', '--table'], "Option '--table <value>' argument missing"],
    [['redrive', '--max', '0'], '--max must be a positive integer, got "0"'],
    [['status', '--queue', 'poison'], '--queue takes name=url or a queue URL, got "poison"'],
    [['status', '--retention-days', 'week'], '--retention-days must be a positive integer, got "week"'],
    [['status', '--local', '--stack', 'DynamoDbOutbox-dev'], '--local and --stack exclude each other'],
    [['status', '--layout', 'sideways'], '--layout takes time-ordered-table, or an outbox layout as JSON'],
  ])('outbox %j', async (args, message) => {
    // Act
    const { status, stderr } = await outbox(args);

    // Assess
    expect(status).toBe(2);
    expectOneLine(stderr);
    expect(stderr).toContain(message);
  });

  it('without a command: the usage, on stderr, exit status 2', async () => {
    const { status, stdout, stderr } = await outbox([]);

    expect(status).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^Usage: dynamodb-outbox <command> \[options\]/);
  });

  it('a stack that does not exist is named, with the region', async () => {
    // Prepare
    cloudFormation
      .on(DescribeStacksCommand)
      .rejects(serviceError('ValidationException', 'Stack with id DynamoDbOutbox-qa does not exist'));

    // Act
    const { status, stderr } = await outbox([
      'status',
      '--stack',
      'DynamoDbOutbox-qa',
      '--region',
      'eu-west-1',
    ]);

    // Assess
    expect(status).toBe(2);
    expectOneLine(stderr);
    expect(stderr).toBe(
      'outbox: Cannot read the outputs of stack DynamoDbOutbox-qa in eu-west-1: Stack with id DynamoDbOutbox-qa does not exist',
    );
  });

  it('a stack without outbox outputs says to pass --table', async () => {
    cloudFormation.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'Other' } as never] });

    const { status, stderr } = await outbox(['status', '--stack', 'Other', '--region', 'eu-west-1']);

    expect(status).toBe(2);
    expectOneLine(stderr);
    expect(stderr).toBe(
      'outbox: No outbox in the outputs of stack Other (TransactionalOutbox outputs its table, layout, bus and ' +
        'queues there): pass --table <name>, with --layout, --bus and --source as the command needs them',
    );
  });

  it.each([
    [
      'a table that does not exist',
      new ResourceNotFoundException({ message: 'Requested resource not found', $metadata: {} }),
      /^outbox: Table audit not found in AWS \(table audit\)\. Pass the outbox table with --table/,
    ],
    [
      'a table without the time index',
      serviceError('ValidationException', 'The table does not have the specified index: outbox-by-time'),
      /^outbox: Table audit has no outbox-by-time index, so its pending events cannot be listed: is it the outbox table\?/,
    ],
    ['no region', new Error('Region is missing'), /^outbox: No AWS region: pass --region, or set AWS_REGION/],
    [
      'no credentials',
      Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      }),
      /^outbox: No usable AWS credentials: Could not load credentials from any providers$/,
    ],
    [
      'access denied',
      serviceError('AccessDeniedException', 'User: arn:aws:iam::123456789012:user/ops is not authorized'),
      /^outbox: AccessDeniedException: User: arn:aws:iam::123456789012:user\/ops is not authorized$/,
    ],
  ])('status --table: %s', async (_case, error, message) => {
    // Prepare: no reconciler watermark yet; the listing's first Query fails.
    ddb.on(GetCommand).resolves({}).on(QueryCommand).rejects(error);

    // Act
    const { status, stderr } = await outbox(['status', '--table', 'audit', '--layout', sameTable]);

    // Assess
    expect(status).toBe(2);
    expectOneLine(stderr);
    expect(stderr).toMatch(message);
  });

  it('status --layout time-ordered-table on a table keyed otherwise names the layout and the keys', async () => {
    // Prepare: DynamoDB's answer to a Get with keys that are not the table's.
    ddb
      .on(GetCommand)
      .rejects(serviceError('ValidationException', 'The provided key element does not match the schema'));

    // Act
    const { status, stderr } = await outbox([
      'status',
      '--table',
      'orders',
      '--layout',
      'time-ordered-table',
    ]);

    // Assess
    expect(status).toBe(2);
    expectOneLine(stderr);
    expect(stderr).toBe(
      'outbox: Table orders is not keyed as its outbox layout says (time-ordered-table: pk/sk): is it the ' +
        'outbox table? Pass the table the stack (or `dynamodb-outbox local`) created with --table, or --stack to read it ' +
        'and its layout from the stack outputs; --layout names the layout of a table without a stack.',
    );
  });

  it('status, locally: a runtime that is not running', async () => {
    ddb
      .on(QueryCommand)
      .rejects(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { code: 'ECONNREFUSED' }));

    const { status, stderr } = await outbox(['status']);

    expect(status).toBe(2);
    expectOneLine(stderr);
    expect(stderr).toMatch(
      /^outbox: The local stack is down: nothing answers at DynamoDB .*Start it with `dynamodb-outbox local`/,
    );
  });

  it('redrive without a poison queue names --poison-queue-url', async () => {
    const { status, stderr } = await outbox(['redrive', '--table', 'orders']);

    expect(status).toBe(2);
    expectOneLine(stderr);
    expect(stderr).toContain('pass --poison-queue-url');
  });

  it('redrive without a bus or a source to republish with names --bus and --source', async () => {
    const url = 'https://sqs.eu-west-1.amazonaws.com/123456789012/poison';
    const noBus = await outbox(['redrive', '--table', 'orders', '--poison-queue-url', url]);
    const noSource = await outbox(['redrive', '--table', 'orders', '--poison-queue-url', url, '--bus', 'b']);

    expect([noBus.status, noSource.status]).toEqual([2, 2]);
    expectOneLine(noBus.stderr);
    expect(noBus.stderr).toBe(
      "outbox: No event bus to republish to: pass --bus <name> (or run where the outbox's stack outputs name it)",
    );
    expect(noSource.stderr).toContain('No event source to republish with: pass --source <source>');
  });

  it('redrive from a queue that does not exist names the queue and --poison-queue-url', async () => {
    sqs
      .on(ReceiveMessageCommand)
      .rejects(serviceError('QueueDoesNotExist', 'The specified queue does not exist.'));

    const { status, stderr } = await outbox([
      'redrive',
      '--table',
      'orders',
      '--bus',
      'orders',
      '--source',
      'orders',
      '--poison-queue-url',
      'https://sqs.eu-west-1.amazonaws.com/123456789012/gone',
    ]);

    expect(status).toBe(2);
    expectOneLine(stderr);
    expect(stderr).toBe(
      'outbox: Queue https://sqs.eu-west-1.amazonaws.com/123456789012/gone does not exist in AWS (table orders): check --poison-queue-url',
    );
  });

  it('status that cannot read a queue prints what it read, names the queue, and exits 2 as for the table', async () => {
    // Prepare: the table answers (no watermark yet, nothing listed); the queue's endpoint does not.
    ddb.on(GetCommand).resolves({}).on(QueryCommand).resolves({ Count: 0, Items: [] });
    sqs
      .on(GetQueueAttributesCommand)
      .rejects(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9324'), { code: 'ECONNREFUSED' }));
    const url = 'http://127.0.0.1:9324/000000000000/poison';

    // Act
    const { status, stdout, stderr } = await outbox([
      'status',
      '--table',
      'orders',
      '--layout',
      sameTable,
      '--queue',
      `poison=${url}`,
    ]);

    // Assess
    expect(status).toBe(2);
    expect(stdout).toContain('poison                unreadable: connect ECONNREFUSED 127.0.0.1:9324');
    expectOneLine(stderr);
    expect(stderr).toBe(
      `outbox: status is incomplete: could not read queue poison (${url}): connect ECONNREFUSED 127.0.0.1:9324`,
    );
  });

  it('redrive --from-failures names a directory that does not exist, instead of finding nothing in it', async () => {
    // Prepare: a path under a fresh directory, so that it surely does not exist.
    const parent = await mkdtemp(join(tmpdir(), 'outbox-errors-'));
    const missing = join(parent, 'bukets', 'failures');

    try {
      // Act
      const { status, stdout, stderr } = await outbox([
        'redrive',
        '--table',
        'orders',
        '--bus',
        'orders',
        '--source',
        'orders',
        '--from-failures',
        missing,
      ]);

      // Assess: no "failure objects 0" all-clear; the path, and what to pass instead.
      expect(status).toBe(2);
      expect(stdout).toBe('');
      expectOneLine(stderr);
      expect(stderr).toBe(
        `outbox: No failure directory ${missing}: pass the directory \`dynamodb-outbox local\` names for the ` +
          'failure bucket (its "S3 bucket" line), or s3://<bucket> on AWS',
      );
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('keeps the stack of an error nobody anticipated: that one is a bug to report', () => {
    expect(failureMessage(new RangeError('index out of range'))).toMatch(
      /^outbox: failed: RangeError: index out of range\n\s+at /,
    );
  });
});
