/**
 * Figure 1: token requests under a cold start. W environments with empty
 * caches (fresh worker processes, an empty shared table) each get C
 * concurrent callers at once, for one client and scope, under each strategy.
 * Reported per strategy: token requests the token server received, and the
 * callers' latency p50 and p99 (timed inside the workers).
 */
import type { BenchContext } from '../context.js';
import { percentile, spread, spreadOf, type Spread } from '../stats.js';
import { startWorkers, WorkerProcess, workerEnvironment } from '../../local/ipc-worker.js';
import {
  STRATEGIES,
  type CallSample,
  type Strategy,
  type TokenWorkerConfig,
} from '../workers/protocol.js';

/** One strategy's cold start, once. */
export interface ColdStartTrial {
  tokenRequests: number;
  p50Ms: number;
  p99Ms: number;
  calls: number;
  failedCalls: number;
}

export interface ColdStartStrategyResult {
  strategy: Strategy;
  tokenRequests: Spread;
  p50Ms: Spread;
  p99Ms: Spread;
  /** This strategy's p50 over the broker's, trial by trial. */
  p50RatioToBroker: Spread;
  p99RatioToBroker: Spread;
  failedCalls: Spread;
  trials: ColdStartTrial[];
}

export interface ColdStartResult {
  workers: number;
  callers: number;
  strategies: ColdStartStrategyResult[];
}

/** Longest one burst may take: a token request's 8 s deadline, with room for a busy machine. */
const BURST_TIMEOUT_MS = 60_000;

export async function measureColdStart(context: BenchContext): Promise<ColdStartResult> {
  const { workers, callers, trials } = context.params.coldStart;
  const results = new Map<Strategy, ColdStartTrial[]>(STRATEGIES.map((s) => [s, []]));

  for (let trial = 0; trial < trials; trial++) {
    // Rotate the order, so no strategy always runs first on a cold machine.
    for (const strategy of rotate(STRATEGIES, trial)) {
      const outcome = await coldStartOnce(context, strategy, workers, callers);
      results.get(strategy)!.push(outcome);
      context.progress(
        `figure 1, trial ${trial + 1}/${trials}, ${strategy}: ` +
          `${outcome.tokenRequests} token requests, p50 ${outcome.p50Ms.toFixed(1)} ms`,
      );
    }
  }

  const broker = results.get('broker')!;
  return {
    workers,
    callers,
    strategies: STRATEGIES.map((strategy) => {
      const trialsOf = results.get(strategy)!;
      return {
        strategy,
        tokenRequests: spreadOf(trialsOf, (t) => t.tokenRequests),
        p50Ms: spreadOf(trialsOf, (t) => t.p50Ms),
        p99Ms: spreadOf(trialsOf, (t) => t.p99Ms),
        p50RatioToBroker: spread(trialsOf.map((t, i) => t.p50Ms / broker[i]!.p50Ms)),
        p99RatioToBroker: spread(trialsOf.map((t, i) => t.p99Ms / broker[i]!.p99Ms)),
        failedCalls: spreadOf(trialsOf, (t) => t.failedCalls),
        trials: trialsOf,
      };
    }),
  };
}

async function coldStartOnce(
  context: BenchContext,
  strategy: Strategy,
  workerCount: number,
  callers: number,
): Promise<ColdStartTrial> {
  const { servers } = context;
  await servers.clearSharedToken();
  const fleet = await startTokenWorkers(context, strategy, workerCount, 'cold');
  try {
    const before = servers.tokenServer.stats().tokenRequests;
    const samples = (
      await Promise.all(
        fleet.map((worker) =>
          worker.request<CallSample[]>({ type: 'burst', concurrency: callers }, BURST_TIMEOUT_MS),
        ),
      )
    ).flat();
    const tokenRequests = servers.tokenServer.stats().tokenRequests - before;
    const latencies = samples.map((sample) => sample.latencyMs);
    return {
      tokenRequests,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      calls: samples.length,
      failedCalls: samples.filter((sample) => sample.error !== undefined).length,
    };
  } finally {
    await Promise.all(fleet.map((worker) => worker.stop()));
  }
}

/** Starts `count` token workers of one strategy and waits until all are ready. */
export function startTokenWorkers(
  context: BenchContext,
  strategy: Strategy,
  count: number,
  prefix: string,
  refreshAheadRatio?: number,
): Promise<WorkerProcess[]> {
  const { endpoints } = context.servers;
  return startWorkers(count, (index) => {
    const config: TokenWorkerConfig = {
      environmentId: `${prefix}-${strategy}-${index + 1}`,
      strategy,
      endpoints,
      ...(refreshAheadRatio === undefined ? {} : { refreshAheadRatio }),
    };
    return WorkerProcess.start(
      config.environmentId,
      context.workerBundles.token,
      [JSON.stringify(config)],
      workerEnvironment(endpoints.region),
    );
  });
}

export function rotate<T>(items: readonly T[], by: number): T[] {
  const shift = by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}
