/**
 * Figure 3: latency of each path a token can take, as a ratio to one direct
 * token request against the same local token server. Each trial runs in a
 * fresh worker process; within a trial each path's median is divided by the
 * direct request's median, and the figure is the spread of that ratio.
 */
import type { BenchContext } from '../context.js';
import { median, spreadOf, type Spread } from '../stats.js';
import { WorkerProcess, workerEnvironment } from '../../local/ipc-worker.js';
import {
  TOKEN_PATHS,
  type PathLatencyConfig,
  type PathTrial,
  type TokenPath,
} from '../workers/protocol.js';

/** The source each path must be served from; anything else means it took another path. */
export const EXPECTED_SOURCE: Record<TokenPath, string> = {
  direct: 'token_endpoint',
  callerMemory: 'caller_memory',
  brokerMemory: 'broker_memory',
  sharedCache: 'cache',
  miss: 'token_endpoint',
};

export interface PathLatencyTrial {
  medianMs: Record<TokenPath, number>;
  ratioToDirect: Record<TokenPath, number>;
  /** Calls served from another source than the path's own. */
  offPathCalls: number;
}

export interface PathResult {
  path: TokenPath;
  samplesPerTrial: number;
  medianMs: Spread;
  ratioToDirect: Spread;
}

export interface PathLatencyResult {
  paths: PathResult[];
  offPathCalls: number;
  trials: PathLatencyTrial[];
}

const TRIAL_TIMEOUT_MS = 120_000;

export async function measurePathLatency(context: BenchContext): Promise<PathLatencyResult> {
  const { samples, warmupCalls, trials } = context.params.pathLatency;
  const { endpoints } = context.servers;
  const config: PathLatencyConfig = { endpoints, samples, warmupCalls };
  const outcomes: PathLatencyTrial[] = [];

  for (let trial = 0; trial < trials; trial++) {
    const worker = await WorkerProcess.start(
      `paths-${trial + 1}`,
      context.workerBundles.pathLatency,
      [JSON.stringify(config)],
      workerEnvironment(endpoints.region),
    );
    try {
      const raw = await worker.request<PathTrial>({ type: 'trial' }, TRIAL_TIMEOUT_MS);
      const outcome = summarize(raw);
      outcomes.push(outcome);
      context.progress(
        `figure 3, trial ${trial + 1}/${trials}: direct ${outcome.medianMs.direct.toFixed(2)} ms, ` +
          `miss ×${outcome.ratioToDirect.miss.toFixed(2)}`,
      );
    } finally {
      await worker.stop();
    }
  }

  return {
    paths: TOKEN_PATHS.map((path) => ({
      path,
      samplesPerTrial: samples[path],
      medianMs: spreadOf(outcomes, (t) => t.medianMs[path]),
      ratioToDirect: spreadOf(outcomes, (t) => t.ratioToDirect[path]),
    })),
    offPathCalls: outcomes.reduce((sum, t) => sum + t.offPathCalls, 0),
    trials: outcomes,
  };
}

function summarize(raw: PathTrial): PathLatencyTrial {
  const medianMs = {} as Record<TokenPath, number>;
  const ratioToDirect = {} as Record<TokenPath, number>;
  let offPathCalls = 0;
  for (const path of TOKEN_PATHS) {
    medianMs[path] = median(raw.latenciesMs[path]);
    for (const [source, count] of Object.entries(raw.sources[path])) {
      if (source !== EXPECTED_SOURCE[path]) offPathCalls += count;
    }
  }
  for (const path of TOKEN_PATHS) ratioToDirect[path] = medianMs[path] / medianMs.direct;
  return { medianMs, ratioToDirect, offPathCalls };
}
