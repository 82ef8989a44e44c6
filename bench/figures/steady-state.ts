/**
 * Figure 2: steady state over several token lifetimes. The token server
 * issues short-lived tokens; a few environments call at a steady rate for a
 * few lifetimes, under the per-environment cache and the broker. Reported:
 * token requests per lifetime, duplicate requests (two for one token), the
 * share of calls (after each environment's first token) that waited on the
 * token server, and tokens served at or past their expiry.
 *
 * Token requests are timestamped as the token server receives them, through
 * its fault hook (which answers nothing and delays nothing here).
 */
import type { BenchContext } from '../context.js';
import { spreadOf, type Spread } from '../stats.js';
import { DEFAULT_ACCESS_TOKEN_TTL_SECS } from '../../local/token-server.js';
import { REFRESH_AHEAD_RATIO } from '../../shared/constants.js';
import { STEADY_STATE_STRATEGIES, type CallSample, type Strategy } from '../workers/protocol.js';
import { rotate, startTokenWorkers } from './cold-start.js';

export interface SteadyStateTrial {
  tokenRequests: number;
  requestsPerLifetime: number;
  /**
   * Requests that reached the token server sooner after the one before than
   * any token could have needed renewing: the fleet asking twice for one token.
   */
  duplicateRequests: number;
  calls: number;
  /** Calls started after every environment had its first token. */
  callsAfterFirst: number;
  waitsAfterFirst: number;
  waitShareAfterFirst: number;
  /** Calls served a token whose `expiresAt` was not after the moment it was received. */
  expiredTokens: number;
  failedCalls: number;
  /** Lease waits the brokers counted (0 for the other strategies). */
  leaseWaits: number;
}

export interface SteadyStateStrategyResult {
  strategy: Strategy;
  requestsPerLifetime: Spread;
  duplicateRequests: Spread;
  waitsAfterFirst: Spread;
  waitShareAfterFirst: Spread;
  expiredTokens: Spread;
  failedCalls: Spread;
  trials: SteadyStateTrial[];
}

export interface SteadyStateResult {
  workers: number;
  intervalMs: number;
  tokenLifetimeSecs: number;
  lifetimes: number;
  strategies: SteadyStateStrategyResult[];
}

/** Room, beyond the load itself, for the last calls to settle and the reply to travel. */
const LOAD_REPLY_MARGIN_MS = 40_000;

export async function measureSteadyState(context: BenchContext): Promise<SteadyStateResult> {
  const { workers, intervalMs, tokenLifetimeSecs, lifetimes, trials } = context.params.steadyState;
  const { tokenServer } = context.servers;
  const results = new Map<Strategy, SteadyStateTrial[]>(
    STEADY_STATE_STRATEGIES.map((s) => [s, []]),
  );
  const requestTimes: number[] = [];

  tokenServer.setAccessTokenTtl(tokenLifetimeSecs);
  tokenServer.setFault(() => {
    requestTimes.push(Date.now());
    return undefined;
  });
  try {
    for (let trial = 0; trial < trials; trial++) {
      for (const strategy of rotate(STEADY_STATE_STRATEGIES, trial)) {
        await context.servers.clearSharedToken();
        const fleet = await startTokenWorkers(context, strategy, workers, 'steady');
        try {
          requestTimes.length = 0;
          const durationMs = tokenLifetimeSecs * lifetimes * 1000;
          const perWorker = await Promise.all(
            fleet.map((worker) =>
              worker.request<CallSample[]>(
                { type: 'load', durationMs, intervalMs },
                durationMs + LOAD_REPLY_MARGIN_MS,
              ),
            ),
          );
          const counts = await Promise.all(
            fleet.map((worker) =>
              worker.request<Record<string, number>>({ type: 'counts' }, 5_000),
            ),
          );
          const leaseWaits = counts.reduce((sum, c) => sum + (c.LeaseWait ?? 0), 0);
          const outcome = summarize(perWorker, [...requestTimes], {
            durationMs,
            lifetimeMs: tokenLifetimeSecs * 1000,
            leaseWaits,
          });
          results.get(strategy)!.push(outcome);
          context.progress(
            `figure 2, trial ${trial + 1}/${trials}, ${strategy}: ` +
              `${outcome.tokenRequests} token requests, ${outcome.waitsAfterFirst} waits, ` +
              `${outcome.expiredTokens} expired`,
          );
        } finally {
          await Promise.all(fleet.map((worker) => worker.stop()));
        }
      }
    }
  } finally {
    tokenServer.setFault(undefined);
    tokenServer.setAccessTokenTtl(DEFAULT_ACCESS_TOKEN_TTL_SECS);
  }

  return {
    workers,
    intervalMs,
    tokenLifetimeSecs,
    lifetimes,
    strategies: STEADY_STATE_STRATEGIES.map((strategy) => {
      const trialsOf = results.get(strategy)!;
      return {
        strategy,
        requestsPerLifetime: spreadOf(trialsOf, (t) => t.requestsPerLifetime),
        duplicateRequests: spreadOf(trialsOf, (t) => t.duplicateRequests),
        waitsAfterFirst: spreadOf(trialsOf, (t) => t.waitsAfterFirst),
        waitShareAfterFirst: spreadOf(trialsOf, (t) => t.waitShareAfterFirst),
        expiredTokens: spreadOf(trialsOf, (t) => t.expiredTokens),
        failedCalls: spreadOf(trialsOf, (t) => t.failedCalls),
        trials: trialsOf,
      };
    }),
  };
}

export function summarize(
  perWorker: CallSample[][],
  requestTimes: number[],
  run: { durationMs: number; lifetimeMs: number; leaseWaits: number },
): SteadyStateTrial {
  const samples = perWorker.flat();
  // The moment the last environment got its first token: the end of the cold start.
  const warmAtMs = Math.max(
    ...perWorker.map((calls) =>
      Math.min(...calls.filter((c) => c.tokenHash !== undefined).map((c) => c.receivedAtMs)),
    ),
  );
  const afterFirst = samples.filter((sample) => sample.startedAtMs > warmAtMs);
  const waits = afterFirst.filter((sample) => sample.waitedOnTokenServer).length;
  const tokenRequests = requestTimes.length;

  return {
    tokenRequests,
    requestsPerLifetime: tokenRequests / (run.durationMs / run.lifetimeMs),
    duplicateRequests: duplicates(requestTimes, run.lifetimeMs),
    calls: samples.length,
    callsAfterFirst: afterFirst.length,
    waitsAfterFirst: waits,
    waitShareAfterFirst: afterFirst.length ? waits / afterFirst.length : 0,
    expiredTokens: samples.filter(
      (sample) => sample.expiresAt !== undefined && sample.expiresAt * 1000 <= sample.receivedAtMs,
    ).length,
    failedCalls: samples.filter((sample) => sample.error !== undefined).length,
    leaseWaits: run.leaseWaits,
  };
}

/**
 * The earliest a token can need renewing after the request that fetched it:
 * the broker renews once a token is in the last `REFRESH_AHEAD_RATIO` of its
 * life, and expiry is kept in whole seconds, which can take up to a second
 * off; a tenth of a second more covers the time between sending a request
 * and the server counting it.
 */
export function earliestRenewalMs(lifetimeMs: number): number {
  return lifetimeMs * (1 - REFRESH_AHEAD_RATIO) - 1_000 - 100;
}

/** Requests closer to the previous one than `earliestRenewalMs`. */
function duplicates(times: number[], lifetimeMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  const minimumGapMs = earliestRenewalMs(lifetimeMs);
  return sorted.filter((time, i) => i > 0 && time - sorted[i - 1]! < minimumGapMs).length;
}
