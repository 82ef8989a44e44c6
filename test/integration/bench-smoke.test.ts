/*
 * The benchmark's smoke run (`npm run bench -- --smoke`), so the benchmark
 * cannot rot: it runs as a child process into a temporary folder, and the
 * test checks the shape of what it wrote and the invariants that hold at any
 * scale (one token request for the broker under a cold start, no expired
 * token ever served, every path served from its own tier). Timing figures are
 * checked only for being measured, never against thresholds.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMOKE_PARAMS } from '../../bench/params.js';
import type { BenchResults } from '../../bench/results.js';
import type { Spread } from '../../bench/stats.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The smoke run takes well under a minute; this bounds it on a busy machine. */
const SMOKE_TIMEOUT_MS = 180_000;

let outDir: string;
let results: BenchResults;
let markdown: string;

/** Runs the smoke benchmark; resolves with its exit code and standard error. */
function runSmoke(dir: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'bench/run.ts', '--smoke', '--out', dir],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), SMOKE_TIMEOUT_MS);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

function expectMeasured(spread: Spread, trials: number): void {
  expect(spread.trials).toHaveLength(trials);
  for (const value of [spread.median, spread.min, spread.max, ...spread.trials]) {
    expect(Number.isFinite(value)).toBe(true);
  }
  expect(spread.min).toBeLessThanOrEqual(spread.median);
  expect(spread.median).toBeLessThanOrEqual(spread.max);
}

beforeAll(async () => {
  outDir = mkdtempSync(path.join(tmpdir(), 'token-broker-bench-smoke-'));
  const run = await runSmoke(outDir);
  expect(run.stderr.slice(-2000), 'the smoke benchmark failed').toContain('bench: wrote');
  expect(run.code).toBe(0);
  results = JSON.parse(readFileSync(path.join(outDir, 'smoke.json'), 'utf8')) as BenchResults;
  markdown = readFileSync(path.join(outDir, 'smoke.md'), 'utf8');
}, SMOKE_TIMEOUT_MS + 10_000);

afterAll(() => {
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

describe('npm run bench -- --smoke', () => {
  it('records the machine, the command and the smoke parameters', () => {
    expect(results.command).toBe('npm run bench -- --smoke');
    expect(results.params).toEqual(SMOKE_PARAMS);
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.machine.node).toBe(process.version);
    expect(Date.parse(results.startedAt)).not.toBeNaN();
  });

  it('keeps the token requests it sent within its bound', () => {
    expect(results.tokenRequests.total).toBeGreaterThan(0);
    expect(results.tokenRequests.total).toBeLessThanOrEqual(results.tokenRequests.budget);
  });

  it('sends exactly one token request under a cold start with the broker', () => {
    const { workers, callers, trials } = SMOKE_PARAMS.coldStart;
    const byStrategy = new Map(
      results.figures.coldStart!.strategies.map((result) => [result.strategy, result]),
    );

    expect([...byStrategy.keys()].sort()).toEqual(['broker', 'naive', 'per-environment']);
    expect(byStrategy.get('broker')!.tokenRequests.trials).toEqual(Array(trials).fill(1));
    expect(byStrategy.get('per-environment')!.tokenRequests.trials).toEqual(
      Array(trials).fill(workers),
    );
    for (const requests of byStrategy.get('naive')!.tokenRequests.trials) {
      expect(requests).toBeGreaterThanOrEqual(workers * callers);
    }
    for (const result of byStrategy.values()) {
      expectMeasured(result.p50Ms, trials);
      expectMeasured(result.p99Ms, trials);
      expect(result.failedCalls.max).toBe(0);
    }
  });

  it('never serves an expired token in the steady state, nor asks twice for one', () => {
    const { trials } = SMOKE_PARAMS.steadyState;
    const broker = results.figures.steadyState!.strategies.find((s) => s.variant === 'broker')!;

    expect(broker.expiredTokens.trials).toEqual(Array(trials).fill(0));
    expect(broker.duplicateRequests.trials).toEqual(Array(trials).fill(0));
    expect(broker.failedCalls.max).toBe(0);
    expectMeasured(broker.requestsPerLifetime, trials);
    for (const trial of broker.trials) expect(trial.callsAfterFirst).toBeGreaterThan(0);
  });

  it('times every token path from its own tier', () => {
    const figure = results.figures.pathLatency!;

    expect(figure.offPathCalls).toBe(0);
    expect(figure.paths.map((p) => p.path)).toEqual([
      'direct',
      'callerMemory',
      'brokerMemory',
      'sharedCache',
      'miss',
    ]);
    for (const result of figure.paths) {
      expectMeasured(result.ratioToDirect, SMOKE_PARAMS.pathLatency.trials);
    }
  });

  it('compares each function bundle with a floor built the same way', () => {
    const figure = results.figures.bundleCost!;

    expect(figure.functions.map((f) => f.name)).toEqual(['token-broker', 'stock-sync']);
    for (const fn of figure.functions) {
      expect(fn.bundleBytes).toBeGreaterThan(fn.floorBytes * 0.5);
      expect(fn.floorParts.join(' ')).toContain('DynamoDBClient');
      expectMeasured(fn.loadRatioToFloor, SMOKE_PARAMS.bundleCost.loads);
      expectMeasured(fn.loadRatioToEmpty, SMOKE_PARAMS.bundleCost.loads);
    }
  });

  it('syncs the whole catalogue with the product and with the baseline', () => {
    const figure = results.figures.stockSync!;
    const { totalItems, trials } = SMOKE_PARAMS.stockSync;

    for (const mode of [figure.product, figure.baseline]) {
      expect(mode.runs.map((run) => run.written)).toEqual(Array(trials).fill(totalItems));
      expectMeasured(mode.itemsPerSec, trials);
      expectMeasured(mode.peakRssMb, trials);
    }
    expectMeasured(figure.speedup, trials);
  });

  it('checks every target and writes one Markdown section per figure', () => {
    expect(results.targets.length).toBeGreaterThan(0);
    for (const check of results.targets) expect(typeof check.met).toBe('boolean');
    for (const heading of [
      '## Targets',
      '## 1. Token requests under a cold start',
      '## 2. Steady state over several token lifetimes',
      '## 3. Latency of each path',
      '## 4. Cold start cost of each function',
      '## 5. Stock sync throughput',
    ]) {
      expect(markdown).toContain(heading);
    }
  });
});
