import { describe, expect, it } from 'vitest';
import {
  earliestRenewalMs,
  renewalsPerLifetime,
  summarize,
} from '../../../bench/figures/steady-state.js';
import type { CallSample } from '../../../bench/workers/protocol.js';

const T0 = 1_800_000_000_000;

function served(startedAtMs: number, source = 'cache'): CallSample {
  return {
    startedAtMs,
    receivedAtMs: startedAtMs + 1,
    latencyMs: 1,
    source,
    waitedOnTokenServer: source === 'token_endpoint',
    expiresAt: (startedAtMs + 5_000) / 1000,
    tokenHash: 'abc',
  };
}

describe('renewalsPerLifetime', () => {
  it('scores a fleet renewing every 5.1 s of a 6 s lifetime at 6 / 5.1, whatever the end phase', () => {
    const times = [T0, T0 + 5_100, T0 + 10_200, T0 + 15_300];

    expect(renewalsPerLifetime(times, 1, 6)).toBeCloseTo(6 / 5.1, 6);
  });

  it('counts a cold start of one request per environment once, not as renewals', () => {
    const cold = [T0, T0 + 1, T0 + 2, T0 + 3];
    const rounds = [5_400, 10_800].flatMap((at) => cold.map((t) => t + at));

    expect(renewalsPerLifetime([...cold, ...rounds], 4, 6)).toBeCloseTo((8 * 6) / 10.803, 3);
  });

  it('is NaN when nothing was renewed', () => {
    expect(renewalsPerLifetime([T0], 1, 6)).toBeNaN();
  });
});

describe('earliestRenewalMs', () => {
  it('is when a token falls due, less a tenth of a second', () => {
    // 6 s: served until 0.6 s before expiry, due 0.3 s before that.
    expect(earliestRenewalMs(6)).toBeCloseTo(5_000, 6);
    expect(earliestRenewalMs(6, 0)).toBeCloseTo(5_300, 6);
  });
});

describe('summarize', () => {
  it('counts duplicates, waits after the cold start and expired tokens', () => {
    const calls = [
      served(T0, 'token_endpoint'),
      served(T0 + 1_000),
      served(T0 + 2_000, 'token_endpoint'),
      { ...served(T0 + 3_000), expiresAt: (T0 + 3_000) / 1000 },
    ];
    const requests = [T0, T0 + 2_000, T0 + 7_000];

    const trial = summarize([calls], requests, {
      lifetimeSecs: 6,
      refreshAheadRatio: undefined,
      leaseWaits: 0,
    });

    expect(trial).toMatchObject({
      tokenRequests: 3,
      coldRequests: 1,
      duplicateRequests: 1,
      callsAfterFirst: 3,
      waitsAfterFirst: 1,
      expiredTokens: 1,
    });
    expect(trial.requestsPerLifetime).toBeCloseTo((2 * 6) / 7, 6);
  });
});
