import { z } from 'zod';

/**
 * Deployment configuration, read from CDK context (`cdk.json` or `-c key=value`) and validated
 * here, so a typo fails the synth with a message instead of deploying something unintended.
 */
const stageConfigSchema = z.object({
  stage: z.enum(['dev', 'prod']),
});

export type StageConfig = z.infer<typeof stageConfigSchema>;

export const readStageConfig = (context: (key: string) => unknown): StageConfig => {
  const raw = { stage: context('stage') ?? 'dev' };
  const parsed = stageConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid CDK context: ${problems}`);
  }
  return parsed.data;
};
