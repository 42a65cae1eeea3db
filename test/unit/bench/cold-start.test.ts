import { describe, expect, it } from 'vitest';
import { findHandlerEntries, minimalHandlerSource, sdkPackagesIn } from '../../../bench/cold-start';

describe('sdkPackagesIn', () => {
  it('lists the AWS SDK packages a bundle imports or requires, once each, without subpaths', () => {
    // Prepare: what esbuild leaves behind for external packages
    const bundle = [
      'import{DynamoDBClient as a}from"@aws-sdk/client-dynamodb";',
      'import{x}from "@aws-sdk/client-dynamodb";',
      'var t=r("@aws-sdk/lib-dynamodb");',
      "import('@aws-sdk/client-sqs/dist-cjs/index.js');",
      'import"@smithy/core";import"zod";',
    ].join('');
    // Act
    const packages = sdkPackagesIn(bundle);
    // Assess
    expect(packages).toEqual(['@aws-sdk/client-dynamodb', '@aws-sdk/client-sqs', '@aws-sdk/lib-dynamodb']);
  });
});

describe('minimalHandlerSource', () => {
  it('imports each package and uses them, so that a bundler cannot drop the imports', () => {
    const source = minimalHandlerSource(['@aws-sdk/client-dynamodb', '@aws-sdk/client-eventbridge']);
    expect(source).toContain("import * as sdk0 from '@aws-sdk/client-dynamodb';");
    expect(source).toContain("import * as sdk1 from '@aws-sdk/client-eventbridge';");
    expect(source).toContain('const loaded = [sdk0, sdk1];');
    expect(source).toContain('export const handler');
  });
});

describe('findHandlerEntries', () => {
  it('finds the Lambda entry points of this project', () => {
    const entries = findHandlerEntries(process.cwd());
    expect(entries).toContain('lambdas/orders/handler.ts');
    expect(entries).toContain('packages/dynamodb-outbox/src/engine/relay-handler.ts');
    expect(entries.every((e) => /^(lambdas|packages\/dynamodb-outbox\/src\/engine)\/.*\.ts$/.test(e))).toBe(
      true,
    );
  });
});
