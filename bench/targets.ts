/**
 * The targets, checked against the measured figures. Counts that
 * must hold in every trial (one token request, no expired token) are checked
 * on the worst trial; timing ratios on the median over trials.
 */
import type { BenchResults, TargetCheck } from './results.js';

/** Largest bundle, relative to its floor, that meets the size target. */
export const MAX_SIZE_RATIO_TO_FLOOR = 1.1;
/** Slowest load, relative to the floor's, that meets the load time target. */
export const MAX_LOAD_RATIO_TO_FLOOR = 1.1;
export const MIN_SYNC_SPEEDUP = 5;
/** The stock sync function's configured memory. */
export const FUNCTION_MEMORY_MB = 256;

export function checkTargets(figures: BenchResults['figures']): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const add = (check: TargetCheck) => checks.push(check);

  const broker = figures.coldStart?.strategies.find((s) => s.strategy === 'broker');
  if (broker) {
    add({
      figure: 1,
      name: 'broker token requests under a cold start',
      target: 'exactly 1 in every trial',
      measured: broker.tokenRequests.trials.join(', '),
      met: broker.tokenRequests.trials.every((n) => n === 1),
    });
  }

  const steady = figures.steadyState?.strategies.find((s) => s.variant === 'broker');
  if (steady) {
    add({
      figure: 2,
      name: 'broker token requests per token lifetime',
      target: '1 (median)',
      measured: steady.requestsPerLifetime.median.toFixed(2),
      met: steady.requestsPerLifetime.median <= 1,
    });
    add({
      figure: 2,
      name: 'broker duplicate token requests (two for one token), fleet-wide',
      target: '0 in every trial',
      measured: steady.duplicateRequests.trials.join(', '),
      met: steady.duplicateRequests.max === 0,
    });
    add({
      figure: 2,
      name: 'broker calls that waited on the token server after the first token',
      target: '0 in every trial',
      measured: steady.waitsAfterFirst.trials.join(', '),
      met: steady.waitsAfterFirst.max === 0,
    });
    add({
      figure: 2,
      name: 'broker tokens served at or past expiry',
      target: '0 in every trial',
      measured: steady.expiredTokens.trials.join(', '),
      met: steady.expiredTokens.max === 0,
    });
  }

  for (const fn of figures.bundleCost?.functions ?? []) {
    add({
      figure: 4,
      name: `${fn.name} bundle size / floor`,
      target: `≤ ${MAX_SIZE_RATIO_TO_FLOOR.toFixed(2)}`,
      measured: fn.sizeRatioToFloor.toFixed(3),
      met: fn.sizeRatioToFloor <= MAX_SIZE_RATIO_TO_FLOOR,
    });
    add({
      figure: 4,
      name: `${fn.name} load time / floor (median)`,
      target: `≤ ${MAX_LOAD_RATIO_TO_FLOOR.toFixed(2)}`,
      measured: fn.loadRatioToFloor.median.toFixed(3),
      met: fn.loadRatioToFloor.median <= MAX_LOAD_RATIO_TO_FLOOR,
    });
  }

  const sync = figures.stockSync;
  if (sync) {
    add({
      figure: 5,
      name: 'stock sync throughput / PutItem baseline (median)',
      target: `≥ ${MIN_SYNC_SPEEDUP}×`,
      measured: `${sync.speedup.median.toFixed(2)}×`,
      met: sync.speedup.median >= MIN_SYNC_SPEEDUP,
    });
    add({
      figure: 5,
      name: 'stock sync peak memory (worst trial)',
      target: `< ${FUNCTION_MEMORY_MB} MB`,
      measured: `${sync.product.peakRssMb.max.toFixed(0)} MB`,
      met: sync.product.peakRssMb.max < FUNCTION_MEMORY_MB,
    });
  }
  return checks;
}
