import type { ColdStartEntry } from './cold-start';
import type { ConsumerComparison } from './consumer-report';
import type { CostBreakdown, CostInputs } from './cost-model';
import type { Counts } from './counts';
import type { MachineDescription } from './machine';
import type { HandlerOutput } from './output';
import type { PriceTable } from './prices';
import type { DrainResult, LagResult } from './relay';
import type { DeployedSettings } from './settings';
import type { WritePathLevel } from './write-path';

/** Everything a run measured: written as bench/results/latest.json, rendered as latest.md. */
export interface BenchResults {
  readonly schemaVersion: 1;
  readonly profile: 'full' | 'quick';
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly machine: MachineDescription;
  readonly settings: DeployedSettings;
  readonly writePath: readonly WritePathLevel[];
  readonly drain: DrainResult;
  readonly lag: Omit<LagResult, 'trackingOn' | 'trackingOff'> & {
    readonly trackingOn: Omit<LagResult['trackingOn'], 'relaySamples' | 'baselineSamples'>;
    readonly trackingOff: Omit<LagResult['trackingOff'], 'relaySamples' | 'baselineSamples'>;
  };
  readonly counts: Counts;
  readonly coldStart: readonly ColdStartEntry[];
  readonly cost: {
    readonly prices: PriceTable;
    readonly inputs: CostInputs;
    readonly designs: readonly CostBreakdown[];
  };
  readonly targets: readonly TargetResult[];
  /** Powertools idempotency consumer vs transactional consumer; absent from results written before. */
  readonly consumers?: ConsumerComparison;
  readonly handlerOutput: HandlerOutput;
}

/** `npm run bench -- --cold-start`: written as cold-start.json (cold-start-quick.json with --quick). */
export interface ColdStartResults {
  readonly schemaVersion: 1;
  readonly profile: 'full' | 'quick';
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly machine: MachineDescription;
  /** The functions' NODE_OPTIONS, as deployed. */
  readonly nodeOptions: string | undefined;
  readonly coldStart: readonly ColdStartEntry[];
}

export interface TargetResult {
  readonly name: string;
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
}
