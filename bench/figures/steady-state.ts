/**
 * Figure 2: steady state over several token lifetimes. The token server
 * issues short-lived tokens; a few environments call at a steady rate for a
 * few lifetimes, under the per-environment cache, the broker, and, as a
 * reference, the broker with renewal ahead turned off (a token is fetched
 * again only once it is no longer served). Reported: token requests per
 * lifetime once every environment has its first token, duplicate requests
 * (two for one token), the share of calls (after each environment's first
 * token) that waited on the token server, and tokens served at or past their
 * expiry.
 *
 * Token requests are timestamped as the token server receives them, through
 * its fault hook (which answers nothing and delays nothing here).
 */
import type { BenchContext } from '../context.js';
import { spreadOf, type Spread } from '../stats.js';
import { DEFAULT_ACCESS_TOKEN_TTL_SECS } from '../../local/token-server.js';
import { renewalPeriodSecs } from '../../shared/expiry.js';
import type { CallSample, Strategy } from '../workers/protocol.js';
import { rotate, startTokenWorkers } from './cold-start.js';

/** One way of getting tokens that figure 2 runs: a strategy, and for the broker its renewal. */
export interface SteadyStateVariant {
  name: 'per-environment' | 'broker-at-expiry' | 'broker';
  strategy: Strategy;
  /** The broker's renewal-ahead share; left out, the product's default. */
  refreshAheadRatio?: number;
}

/**
 * The token-per-invocation strategy is left out: it sends one request per
 * call by construction (figure 1 measures it), and at a steady rate it would
 * only load the token server the others share a machine with.
 */
export const STEADY_STATE_VARIANTS: readonly SteadyStateVariant[] = [
  { name: 'per-environment', strategy: 'per-environment' },
  { name: 'broker-at-expiry', strategy: 'broker', refreshAheadRatio: 0 },
  { name: 'broker', strategy: 'broker' },
];

export interface SteadyStateTrial {
  tokenRequests: number;
  /** Requests of the cold start: those before every environment had its first token. */
  coldRequests: number;
  /**
   * Renewals per token lifetime: the requests after the cold start over the
   * time from the first request to the last, in lifetimes.
   */
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
  variant: SteadyStateVariant['name'];
  requestsPerLifetime: Spread;
  tokenRequests: Spread;
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
  const results = new Map<SteadyStateVariant['name'], SteadyStateTrial[]>(
    STEADY_STATE_VARIANTS.map((v) => [v.name, []]),
  );
  const requestTimes: number[] = [];

  tokenServer.setAccessTokenTtl(tokenLifetimeSecs);
  tokenServer.setFault(() => {
    requestTimes.push(Date.now());
    return undefined;
  });
  try {
    for (let trial = 0; trial < trials; trial++) {
      for (const variant of rotate(STEADY_STATE_VARIANTS, trial)) {
        await context.servers.clearSharedToken();
        const fleet = await startTokenWorkers(
          context,
          variant.strategy,
          workers,
          `steady-${variant.name}`,
          variant.refreshAheadRatio,
        );
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
            lifetimeSecs: tokenLifetimeSecs,
            refreshAheadRatio: variant.refreshAheadRatio,
            leaseWaits,
          });
          results.get(variant.name)!.push(outcome);
          context.progress(
            `figure 2, trial ${trial + 1}/${trials}, ${variant.name}: ` +
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
    strategies: STEADY_STATE_VARIANTS.map(({ name }) => {
      const trialsOf = results.get(name)!;
      return {
        variant: name,
        requestsPerLifetime: spreadOf(trialsOf, (t) => t.requestsPerLifetime),
        tokenRequests: spreadOf(trialsOf, (t) => t.tokenRequests),
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
  run: { lifetimeSecs: number; refreshAheadRatio: number | undefined; leaseWaits: number },
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
  const sorted = [...requestTimes].sort((a, b) => a - b);
  const coldRequests = sorted.filter((time) => time <= warmAtMs).length;

  return {
    tokenRequests: sorted.length,
    coldRequests,
    requestsPerLifetime: renewalsPerLifetime(sorted, coldRequests, run.lifetimeSecs),
    duplicateRequests: duplicates(
      sorted,
      earliestRenewalMs(run.lifetimeSecs, run.refreshAheadRatio),
    ),
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
 * Requests after the cold start per token lifetime, counted from the first
 * request to the last: a fleet that renews every `P` seconds scores
 * lifetime / `P` whatever the phase at which the trial ends, where a count
 * over the whole trial would add up to one request's worth of edge effect.
 * NaN when no renewal happened.
 */
export function renewalsPerLifetime(
  sortedTimes: number[],
  coldRequests: number,
  lifetimeSecs: number,
): number {
  const renewals = sortedTimes.length - coldRequests;
  if (renewals < 1) return Number.NaN;
  const spanMs = sortedTimes[sortedTimes.length - 1]! - sortedTimes[0]!;
  return (renewals * lifetimeSecs * 1000) / spanMs;
}

/**
 * The earliest a token can need renewing after the request that fetched it:
 * when it falls due for renewal ahead (`shared/expiry.ts`), counted from the
 * request's send time; a tenth of a second less covers the time between
 * sending a request and the server counting it.
 */
export function earliestRenewalMs(lifetimeSecs: number, refreshAheadRatio?: number): number {
  const ahead = refreshAheadRatio === undefined ? {} : { ratio: refreshAheadRatio };
  return renewalPeriodSecs(lifetimeSecs, ahead) * 1000 - 100;
}

/** Requests closer to the previous one than `minimumGapMs`. */
function duplicates(sorted: number[], minimumGapMs: number): number {
  return sorted.filter((time, i) => i > 0 && time - sorted[i - 1]! < minimumGapMs).length;
}
