/**
 * The benchmark's parameters: the full run (`npm run bench`) and the smoke
 * run (`npm run bench -- --smoke`) that CI uses so the benchmark cannot rot.
 * Every bound on time and on requests sent derives from these numbers.
 */
import { STEADY_STATE_VARIANTS } from './figures/steady-state.js';
import type { TokenPath } from './workers/protocol.js';

export interface BenchParams {
  name: 'full' | 'smoke';
  coldStart: {
    /** Worker processes, each one Lambda environment. */
    workers: number;
    /** Concurrent callers in each environment. */
    callers: number;
    trials: number;
  };
  steadyState: {
    workers: number;
    /** Each worker starts a call this often. */
    intervalMs: number;
    /** Lifetime of the tokens the token server issues meanwhile. */
    tokenLifetimeSecs: number;
    /** How many token lifetimes a trial lasts. */
    lifetimes: number;
    trials: number;
  };
  pathLatency: {
    samples: Record<TokenPath, number>;
    warmupCalls: number;
    trials: number;
  };
  bundleCost: {
    /** Fresh `node` processes per bundle (and for the empty process). */
    loads: number;
  };
  stockSync: {
    totalItems: number;
    pageSize: number;
    /** Runs of each of the product and the baseline. */
    trials: number;
  };
}

export const FULL_PARAMS: BenchParams = {
  name: 'full',
  coldStart: { workers: 20, callers: 50, trials: 5 },
  steadyState: { workers: 4, intervalMs: 20, tokenLifetimeSecs: 6, lifetimes: 3, trials: 3 },
  pathLatency: {
    samples: { direct: 50, callerMemory: 2000, brokerMemory: 2000, sharedCache: 200, miss: 50 },
    warmupCalls: 10,
    trials: 5,
  },
  bundleCost: { loads: 30 },
  stockSync: { totalItems: 100_000, pageSize: 500, trials: 3 },
};

export const SMOKE_PARAMS: BenchParams = {
  name: 'smoke',
  coldStart: { workers: 3, callers: 5, trials: 2 },
  steadyState: { workers: 2, intervalMs: 50, tokenLifetimeSecs: 2, lifetimes: 2, trials: 2 },
  pathLatency: {
    samples: { direct: 5, callerMemory: 50, brokerMemory: 50, sharedCache: 10, miss: 5 },
    warmupCalls: 2,
    trials: 2,
  },
  bundleCost: { loads: 3 },
  stockSync: { totalItems: 2_000, pageSize: 500, trials: 2 },
};

/** Attempts the token endpoint client makes at most per token it is asked for. */
const MAX_ATTEMPTS_PER_TOKEN = 3;

/**
 * The most token requests the run may send, counted from the parameters:
 * the naive strategy asks once per call, and every other request is far
 * fewer. The run fails if the token server saw more.
 */
export function tokenRequestBudget(params: BenchParams): number {
  const { coldStart, steadyState, pathLatency, stockSync } = params;
  const coldCalls = coldStart.workers * coldStart.callers * coldStart.trials * 3;
  const steadyCallsPerTrial =
    steadyState.workers *
    Math.ceil(
      (steadyState.tokenLifetimeSecs * steadyState.lifetimes * 1000) / steadyState.intervalMs,
    );
  const steadyCalls = steadyCallsPerTrial * steadyState.trials * STEADY_STATE_VARIANTS.length;
  const pathCalls =
    (pathLatency.samples.direct + pathLatency.samples.miss + 2 * pathLatency.warmupCalls + 2) *
    pathLatency.trials;
  const syncCalls = stockSync.trials * 2 * 4;
  return (coldCalls + steadyCalls + pathCalls + syncCalls) * MAX_ATTEMPTS_PER_TOKEN;
}
