import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it, vi } from 'vitest';
import {
  instrumented,
  logger,
  metrics,
  traced,
  tracer,
  tracingEnabled,
} from '../../../src/runtime/powertools';
import { lambdaContext } from '../../support/unit';

const IN_LAMBDA = { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x' };

describe('tracingEnabled', () => {
  it.each([
    ['in Lambda', IN_LAMBDA, true],
    [
      'in Lambda with POWERTOOLS_TRACE_ENABLED=true',
      { ...IN_LAMBDA, POWERTOOLS_TRACE_ENABLED: 'true' },
      true,
    ],
    [
      'in Lambda with POWERTOOLS_TRACE_ENABLED=false',
      { ...IN_LAMBDA, POWERTOOLS_TRACE_ENABLED: 'false' },
      false,
    ],
    [
      'in Lambda with POWERTOOLS_TRACE_ENABLED= FALSE ',
      { ...IN_LAMBDA, POWERTOOLS_TRACE_ENABLED: ' FALSE ' },
      false,
    ],
    ['outside Lambda', {}, false],
    ['outside Lambda with POWERTOOLS_TRACE_ENABLED=true', { POWERTOOLS_TRACE_ENABLED: 'true' }, false],
    ['with a blank AWS_EXECUTION_ENV', { AWS_EXECUTION_ENV: ' ' }, false],
    ['in SAM local', { ...IN_LAMBDA, AWS_SAM_LOCAL: 'true' }, false],
    ['in the Amplify mock', { AWS_EXECUTION_ENV: 'AWS_Lambda_amplify-mock' }, false],
  ])('follows the Tracer: %s', (_case, env, expected) => {
    expect(tracingEnabled(env)).toBe(expected);
  });
});

describe('with tracing off (tests, the offline runtime, the benchmark)', () => {
  it('creates no tracer, so the X-Ray SDK is never loaded', () => {
    expect(tracer).toBeUndefined();
  });

  it('leaves clients as they are', () => {
    // Prepare
    const client = new DynamoDBClient({});

    // Act
    const result = traced(client);

    // Assess
    expect(result).toBe(client);
    expect(client.middlewareStack.identify().join(' ')).not.toContain('XRay');
  });

  it('still wraps handlers: Lambda context in the logs, metrics flushed', async () => {
    // Prepare
    const addContext = vi.spyOn(logger, 'addContext');
    const publish = vi.spyOn(metrics, 'publishStoredMetrics');
    const handler = instrumented(async (event: { n: number }) => ({ doubled: event.n * 2 }));

    // Act
    const result = await handler({ n: 21 }, lambdaContext);

    // Assess
    expect(result).toEqual({ doubled: 42 });
    expect(addContext).toHaveBeenCalledWith(lambdaContext);
    expect(publish).toHaveBeenCalledOnce();
  });
});
