import { describe, expect, it } from 'vitest';
import * as z from '../../../src/runtime/zod';

// This file loads zod only through the functions' module: the classic API, which would load the
// English messages itself, stays out of it.
describe('zod as the functions use it', () => {
  it("reports zod's English messages, which errors, logs and poison messages quote", () => {
    // Act
    const result = z.object({ sequence: z.number().check(z.int(), z.positive()) }).safeParse({});

    // Assess
    expect(result.error?.issues.map((issue) => issue.message)).toEqual([
      'Invalid input: expected number, received undefined',
    ]);
  });
});
