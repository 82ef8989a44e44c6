/** The shape of one benchmark run, as written to `bench/results/*.json`. */
import type { BundleCostResult } from './figures/bundle-cost.js';
import type { ColdStartResult } from './figures/cold-start.js';
import type { PathLatencyResult } from './figures/path-latency.js';
import type { SteadyStateResult } from './figures/steady-state.js';
import type { StockSyncResult } from './figures/stock-sync.js';
import type { MachineInfo } from './machine.js';
import type { BenchParams } from './params.js';

/** One target of the issue, checked against what was measured. */
export interface TargetCheck {
  figure: number;
  name: string;
  target: string;
  /** The measured value the target is checked on, as text. */
  measured: string;
  met: boolean;
}

export interface BenchResults {
  /** ISO 8601 instant the run started. */
  startedAt: string;
  durationSecs: number;
  command: string;
  machine: MachineInfo;
  params: BenchParams;
  /** Requests the token server received during the whole run, and the bound they were held to. */
  tokenRequests: { total: number; budget: number };
  figures: {
    coldStart?: ColdStartResult;
    steadyState?: SteadyStateResult;
    pathLatency?: PathLatencyResult;
    bundleCost?: BundleCostResult;
    stockSync?: StockSyncResult;
  };
  targets: TargetCheck[];
}
