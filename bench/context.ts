/** What every figure of the benchmark is given. */
import type { BenchServers } from './local-servers.js';
import type { BenchParams } from './params.js';

export interface BenchContext {
  params: BenchParams;
  servers: BenchServers;
  /** Temporary folder for bundles; removed when the run ends. */
  workDir: string;
  /** Bundled worker scripts, run under plain `node`. */
  workerBundles: { token: string; pathLatency: string; stockSync: string };
  /** Prints one progress line on standard error. */
  progress(message: string): void;
}
