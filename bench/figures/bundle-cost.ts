/**
 * Figure 4: cold start cost of each function. Each handler is bundled as
 * `serverless.yml` bundles it, and so is its floor (`floor.ts`): the bare
 * SDK clients and Powertools parts its code imports. Reported: bundle sizes, and
 * the time to load each bundle in a fresh `node` process, as a ratio to an
 * empty `node` process and to the floor. Loads are interleaved round by
 * round, in a rotating order, so drift on a noisy machine hits all alike;
 * each round yields one ratio, and the figure is their spread.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundle, type BuiltBundle } from '../build.js';
import { floorFor } from '../floor.js';
import type { BenchContext } from '../context.js';
import { spreadOf, type Spread } from '../stats.js';
import { rotate } from './cold-start.js';

/** Each function with its entry and its floor's. */
export const FUNCTIONS = [
  {
    name: 'token-broker',
    entry: 'functions/token-broker/handler.ts',
    floor: 'bench/floors/token-broker.ts',
  },
  {
    name: 'stock-sync',
    entry: 'functions/stock-sync/handler.ts',
    floor: 'bench/floors/stock-sync.ts',
  },
] as const;

/**
 * What the handlers read at import, with values that point nowhere: no
 * request is sent while a module loads, and a closed loopback port is all
 * any endpoint could reach.
 */
const LOAD_ENVIRONMENT = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  TOKENS_TABLE: 'token-broker-bench-tokens',
  TOKEN_BROKER_FUNCTION: 'token-broker-bench-tokenBroker',
  STOCKS_TABLE: 'token-broker-bench-stocks',
  SYNC_RUNS_TABLE: 'token-broker-bench-sync-runs',
  POWERTOOLS_LOG_LEVEL: 'INFO',
};

/** Smaller differences from the floor are the bundler's noise, not content. */
const MIN_REPORTED_BYTES = 100;

/** A load that takes longer is a hang, not a measurement. */
const LOAD_TIMEOUT_MS = 30_000;

export interface FunctionCost {
  name: string;
  bundleBytes: number;
  floorBytes: number;
  /** What the floor holds: `package: Name, Name`. */
  floorParts: string[];
  /** bundleBytes / floorBytes. */
  sizeRatioToFloor: number;
  /** What the bundle holds beyond its floor, largest first: source and bytes. */
  beyondFloor: { source: string; bytes: number }[];
  loadMs: Spread;
  floorLoadMs: Spread;
  loadRatioToEmpty: Spread;
  loadRatioToFloor: Spread;
  floorRatioToEmpty: Spread;
}

export interface BundleCostResult {
  loads: number;
  emptyLoadMs: Spread;
  functions: FunctionCost[];
}

export async function measureBundleCost(context: BenchContext): Promise<BundleCostResult> {
  const outDir = path.join(context.workDir, 'functions');
  mkdirSync(outDir, { recursive: true });
  const built = [];
  for (const fn of FUNCTIONS) {
    const functionBundle = await bundle(fn.entry, outDir, fn.name);
    const floor = await floorFor(functionBundle, fn.name);
    built.push({
      name: fn.name,
      bundle: functionBundle,
      floor: await bundle({ source: floor.source }, outDir, `${fn.name}.floor`),
      floorParts: floor.parts,
    });
  }

  const programs = [
    { key: 'empty', code: '' },
    ...built.flatMap((fn) => [
      { key: fn.name, code: importCode(fn.bundle) },
      { key: `${fn.name}.floor`, code: importCode(fn.floor) },
    ]),
  ];
  const rounds: Record<string, number>[] = [];
  const { loads } = context.params.bundleCost;
  for (let round = 0; round < loads; round++) {
    const times: Record<string, number> = {};
    for (const program of rotate(programs, round))
      times[program.key] = await timeLoad(program.code);
    rounds.push(times);
  }
  context.progress(`figure 4: ${loads} rounds of ${programs.length} fresh node processes`);

  return {
    loads,
    emptyLoadMs: spreadOf(rounds, (r) => r.empty!),
    functions: built.map(({ name, bundle: fn, floor, floorParts }) => ({
      name,
      floorParts,
      bundleBytes: fn.bytes,
      floorBytes: floor.bytes,
      sizeRatioToFloor: fn.bytes / floor.bytes,
      beyondFloor: beyondFloor(fn, floor),
      loadMs: spreadOf(rounds, (r) => r[name]!),
      floorLoadMs: spreadOf(rounds, (r) => r[`${name}.floor`]!),
      loadRatioToEmpty: spreadOf(rounds, (r) => r[name]! / r.empty!),
      loadRatioToFloor: spreadOf(rounds, (r) => r[name]! / r[`${name}.floor`]!),
      floorRatioToEmpty: spreadOf(rounds, (r) => r[`${name}.floor`]! / r.empty!),
    })),
  };
}

/** Sources whose share of the bundle exceeds the floor's, by how much. */
function beyondFloor(fn: BuiltBundle, floor: BuiltBundle): { source: string; bytes: number }[] {
  return Object.entries(fn.bytesBySource)
    .map(([source, bytes]) => ({ source, bytes: bytes - (floor.bytesBySource[source] ?? 0) }))
    .filter((entry) => entry.bytes >= MIN_REPORTED_BYTES)
    .sort((a, b) => b.bytes - a.bytes);
}

function importCode(built: BuiltBundle): string {
  return `await import(${JSON.stringify(pathToFileURL(built.file).href)});`;
}

/** Wall time from spawning `node` with `code` until it exits; rejects unless it exits 0. */
function timeLoad(code: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
      env: { PATH: process.env.PATH, ...LOAD_ENVIRONMENT },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), LOAD_TIMEOUT_MS);
    child.once('error', reject);
    child.once('exit', (status, signal) => {
      const elapsed = performance.now() - started;
      clearTimeout(timer);
      if (status === 0) resolve(elapsed);
      else reject(new Error(`loading failed (${signal ?? status}): ${stderr.slice(0, 300)}`));
    });
  });
}
