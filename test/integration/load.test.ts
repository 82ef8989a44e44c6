/*
 * 1,000 concurrent token requests against a cold cache: zero errors, one
 * token request, and the callers' latency reported.
 *
 * Straight to the broker core across worker processes, not through the
 * local Lambda endpoint: serverless-offline starts one worker thread per
 * concurrent invocation, each loading the whole bundle, and on this 2-core
 * machine 40 concurrent invokes of the broker took 17 s (p50 16.9 s), so
 * 1,000 would take minutes. Instead 5 processes (test/fleet workers, each a
 * separate environment with its own `TokenBroker`, SDK clients and memory)
 * fire 200 `getToken` calls each at once, sharing one dynalite, one Secrets
 * Manager stand-in and one oidc-provider token server that counts requests.
 * Every wait is bounded; the workers exit with their parent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet } from '../fleet/fleet.js';
import { fleetClients, startFleetStack, type FleetStack } from '../fleet/fleet-stack.js';

const WORKERS = 5;
const CONCURRENCY = 200;
const CLIENT = 'load-cold-cache';
/** Bound on the burst, far above what a healthy one takes. */
const BURST_TIMEOUT_MS = 30_000;

let stack: FleetStack;
let fleet: Fleet | undefined;

beforeAll(async () => {
  stack = await startFleetStack(fleetClients([CLIENT]));
  fleet = await Fleet.start(
    Array.from({ length: WORKERS }, () => ({
      ...stack.workerConfig,
      leaseMs: 9_000,
      leaseWaitMs: 10_000,
      refreshAheadRatio: 0.25,
    })),
    'load',
  );
});

afterAll(async () => {
  await fleet?.stop();
  await stack?.stop();
});

function percentile(sortedMs: number[], fraction: number): number {
  return sortedMs[Math.min(sortedMs.length - 1, Math.ceil(fraction * sortedMs.length) - 1)]!;
}

describe('a cold cache under load', () => {
  it(`serves ${WORKERS * CONCURRENCY} concurrent requests with one token request and no error`, async () => {
    // Prepare
    const before = stack.tokenServer.stats().tokenRequests;

    // Act
    const startedAtMs = Date.now();
    const bursts = await fleet!.all(
      { type: 'burst', client: CLIENT, concurrency: CONCURRENCY },
      BURST_TIMEOUT_MS,
    );
    const wallMs = Date.now() - startedAtMs;

    // Assess
    const outcomes = bursts.flat();
    const latenciesMs = outcomes.map((outcome) => outcome.latencyMs).sort((a, b) => a - b);
    console.log(
      `load: ${outcomes.length} requests over ${WORKERS} processes in ${wallMs} ms; caller ` +
        `latency p50 ${percentile(latenciesMs, 0.5)} ms, p99 ${percentile(latenciesMs, 0.99)} ms, ` +
        `max ${latenciesMs.at(-1)} ms`,
    );
    expect(outcomes).toHaveLength(WORKERS * CONCURRENCY);
    expect(outcomes.filter((outcome) => outcome.error)).toEqual([]);
    expect(stack.tokenServer.stats().tokenRequests - before).toBe(1);
    expect(new Set(outcomes.map((outcome) => outcome.token?.tokenHash)).size).toBe(1);
  });
});
