import { fileURLToPath } from 'node:url';
import {
  InvokeCommand,
  type InvokeCommandOutput,
  LambdaClient,
  ListFunctionsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localClientConfig } from '../../src/local/clients';
import { type LocalRuntime, startLocalRuntime } from '../../src/local/runtime';

/*
 * A CDK app as `cdk init` writes one (CommonJS, plain NodejsFunctions, watch.include ["**"]) run
 * by the offline runtime, its functions reached through the local Lambda endpoint with the SDK's
 * LambdaClient, as `aws lambda invoke --endpoint-url` reaches them.
 */

const appDir = fileURLToPath(new URL('../fixtures/cjs-app', import.meta.url));

const payloadOf = (output: InvokeCommandOutput): unknown =>
  JSON.parse(Buffer.from(output.Payload ?? new Uint8Array()).toString('utf8'));

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('the local Lambda endpoint, over a CommonJS app of plain NodejsFunctions', () => {
  let runtime: LocalRuntime;
  let lambda: LambdaClient;

  beforeAll(async () => {
    runtime = await startLocalRuntime({ appDir, apiPort: 0, dynamoDbPort: 0, streams: false });
    lambda = new LambdaClient(localClientConfig(runtime.lambda.endpoint));
  }, 120_000);

  afterAll(async () => {
    lambda?.destroy();
    await runtime?.stop();
  });

  it('invokes a function by its FunctionName, running its CommonJS handler from the recorded entry', async () => {
    // Act
    const output = await lambda.send(
      new InvokeCommand({ FunctionName: 'cjs-greeter', Payload: json({ name: 'Ada' }) }),
    );

    // Assess
    expect(output.StatusCode).toBe(200);
    expect(output.FunctionError).toBeUndefined();
    expect(payloadOf(output)).toEqual({ message: 'hello, Ada', module: 'handlers.ts' });
  });

  it('names a function by its ARN or its logical id, as well as by its name', async () => {
    const { Functions = [] } = await lambda.send(new ListFunctionsCommand({}));
    const greeterArn = Functions.find((f) => f.FunctionName === 'cjs-greeter')?.FunctionArn;
    const slowId = runtime.function('CjsApp/Slow').definition.logicalId;

    const byArn = await lambda.send(
      new InvokeCommand({ FunctionName: greeterArn, Payload: json({ name: 'B' }) }),
    );
    const byId = await lambda.send(new InvokeCommand({ FunctionName: slowId }));

    expect(payloadOf(byArn)).toMatchObject({ message: 'hello, B' });
    expect(payloadOf(byId)).toMatchObject({ startedAt: expect.any(Number) });
  });

  it('lists every function with its name, ARN, runtime and handler', async () => {
    // Act
    const { Functions = [] } = await lambda.send(new ListFunctionsCommand({}));

    // Assess
    const slowId = runtime.function('CjsApp/Slow').definition.logicalId;
    expect(Functions.map((f) => f.FunctionName).sort()).toEqual(
      ['cjs-greeter', slowId, runtime.function('CjsApp/Failing').definition.logicalId].sort(),
    );
    expect(Functions.find((f) => f.FunctionName === 'cjs-greeter')).toMatchObject({
      FunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:cjs-greeter',
      Runtime: 'nodejs22.x',
      Handler: 'index.greet',
    });
  });

  it("answers a function's error as Lambda does: status 200, Unhandled, its type and message", async () => {
    // Act
    const output = await lambda.send(
      new InvokeCommand({ FunctionName: runtime.function('CjsApp/Failing').definition.logicalId }),
    );

    // Assess
    expect(output.StatusCode).toBe(200);
    expect(output.FunctionError).toBe('Unhandled');
    expect(payloadOf(output)).toEqual({ errorType: 'PaymentDeclinedError', errorMessage: 'card declined' });
  });

  it('refuses an unknown function with ResourceNotFoundException', async () => {
    await expect(lambda.send(new InvokeCommand({ FunctionName: 'no-such-function' }))).rejects.toThrow(
      ResourceNotFoundException,
    );
  });

  it('accepts an Event invocation (202) and a DryRun (204)', async () => {
    const event = await lambda.send(
      new InvokeCommand({ FunctionName: 'cjs-greeter', InvocationType: 'Event' }),
    );
    const dryRun = await lambda.send(
      new InvokeCommand({ FunctionName: 'cjs-greeter', InvocationType: 'DryRun' }),
    );
    expect([event.StatusCode, dryRun.StatusCode]).toEqual([202, 204]);
  });

  it('never overlaps two invocations of one function: the second starts when the first ended', async () => {
    // Act
    const slowId = runtime.function('CjsApp/Slow').definition.logicalId;
    const [first, second] = (
      await Promise.all([1, 2].map(() => lambda.send(new InvokeCommand({ FunctionName: slowId }))))
    ).map((output) => payloadOf(output) as { startedAt: number; endedAt: number });

    // Assess
    const [earlier, later] = [first, second].sort((a, b) => (a?.startedAt ?? 0) - (b?.startedAt ?? 0));
    expect(later?.startedAt).toBeGreaterThanOrEqual(earlier?.endedAt ?? Number.POSITIVE_INFINITY);
  });
});
