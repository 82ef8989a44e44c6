/**
 * What the benchmark and its token worker processes say to each other over
 * the IPC channel of `child_process.fork`. Each worker stands for one Lambda
 * execution environment: its own process, module instance, memory and SDK
 * clients. Replies identify tokens by hash only; no token crosses the channel.
 */
import type { ServerEndpoints } from '../local-servers.js';

/** How an environment gets its tokens. */
export type Strategy = 'naive' | 'per-environment' | 'broker';

export const STRATEGIES: readonly Strategy[] = ['naive', 'per-environment', 'broker'];

/** The worker's one argument, as JSON. */
export interface TokenWorkerConfig {
  environmentId: string;
  strategy: Strategy;
  endpoints: ServerEndpoints;
  /** The broker's renewal-ahead share; left out, the product's default. */
  refreshAheadRatio?: number;
}

/** `concurrency` callers at once, each asking for one token. */
export interface BurstCommand {
  type: 'burst';
  concurrency: number;
}

/** One call every `intervalMs` for `durationMs`, without waiting for earlier calls. */
export interface LoadCommand {
  type: 'load';
  durationMs: number;
  intervalMs: number;
}

/** Metrics the broker counted in this environment (empty for the other strategies). */
export interface CountsCommand {
  type: 'counts';
}

export type WorkerCommand = BurstCommand | LoadCommand | CountsCommand;

/** One caller's call as it saw it; times are epoch ms of this host. */
export interface CallSample {
  startedAtMs: number;
  receivedAtMs: number;
  latencyMs: number;
  /** Where the token came from, in the strategy's own terms; absent on failure. */
  source?: string;
  /** True when this call waited for a token request to the token server. */
  waitedOnTokenServer: boolean;
  expiresAt?: number;
  tokenHash?: string;
  /** Error code or name when the call failed. */
  error?: string;
}

export interface WorkerReplies {
  burst: CallSample[];
  load: CallSample[];
  counts: Record<string, number>;
}

/** Messages between the parent and a worker: see `local/ipc-worker.ts`. */
export type { CommandMessage, WorkerMessage } from '../../local/ipc-worker.js';

/** Figure 3: the paths a token can take. */
export type TokenPath = 'direct' | 'callerMemory' | 'brokerMemory' | 'sharedCache' | 'miss';

export const TOKEN_PATHS: readonly TokenPath[] = [
  'direct',
  'callerMemory',
  'brokerMemory',
  'sharedCache',
  'miss',
];

export interface PathLatencyConfig {
  endpoints: ServerEndpoints;
  /** Timed calls per path in one trial. */
  samples: Record<TokenPath, number>;
  /** Untimed calls per path before each trial. */
  warmupCalls: number;
}

/** One trial: the latencies of every timed call, in ms, per path, and what served them. */
export interface PathTrial {
  latenciesMs: Record<TokenPath, number[]>;
  /** Sources seen per path, to prove each call took the path it was meant to. */
  sources: Record<TokenPath, Record<string, number>>;
}

/** Figure 5: which writer a sync worker runs. */
export type SyncMode = 'product' | 'baseline';

export interface StockSyncWorkerConfig {
  mode: SyncMode;
  endpoints: ServerEndpoints;
  stocksApiUrl: string;
  pageSize: number;
}

export interface SyncMeasurement {
  mode: SyncMode;
  itemsRead: number;
  written: number;
  elapsedMs: number;
  itemsPerSec: number;
  /** Largest resident set of this process, in bytes, over its whole life (`VmHWM`). */
  peakRssBytes: number;
  /** Largest V8 heap in use, sampled every few milliseconds during the sync. */
  peakHeapUsedBytes: number;
  /** Largest memory held outside the V8 heap (buffers), sampled the same way. */
  peakExternalBytes: number;
  /** Resident set once everything was loaded, before the sync started. */
  startRssBytes: number;
  status: string;
}
