/**
 * What the fleet test and its broker worker processes say to each other over
 * the IPC channel of `child_process.fork`. Each worker stands for one Lambda
 * execution environment: its own module instance, its own broker memory and
 * its own SDK clients. Replies identify tokens by hash only, so no token ever
 * crosses the channel or lands in a test report.
 */
import type { TokenSource } from '../../shared/broker-request.js';

/** How a worker builds its broker; passed as the script's one argument, as JSON. */
export interface WorkerConfig {
  /** Names the environment in lease ids (`<environmentId>:<uuid>`). */
  environmentId: string;
  region: string;
  dynamoDbEndpoint: string;
  secretsManagerEndpoint: string;
  tokensTable: string;
  secretPrefix: string;
  leaseMs: number;
  leaseWaitMs: number;
  refreshAheadRatio: number;
}

/** `concurrency` calls to `getToken` at once; one outcome per call. */
export interface BurstCommand {
  type: 'burst';
  client: string;
  scopes?: string[];
  rejectedTokenHash?: string;
  concurrency: number;
}

/** One call every `intervalMs` for `durationMs`, without waiting for earlier calls. */
export interface LoadCommand {
  type: 'load';
  client: string;
  scopes?: string[];
  durationMs: number;
  intervalMs: number;
}

/** Reads a client profile into the environment's profile cache, as a cold start would. */
export interface ReadProfileCommand {
  type: 'readProfile';
  client: string;
}

/** Everything the environment logged and counted so far. */
export interface ReportCommand {
  type: 'report';
}

export type WorkerCommand = BurstCommand | LoadCommand | ReadProfileCommand | ReportCommand;

/** One `getToken` call as its caller saw it; times are epoch ms of this host. */
export interface CallOutcome {
  startedAtMs: number;
  receivedAtMs: number;
  latencyMs: number;
  /** Set when a token was served. */
  token?: { source: TokenSource; expiresAt: number; tokenHash: string; scope: string };
  /** Set when the call failed; `code` is the broker's, or `unexpected:<name>`. */
  error?: { code: string; retryable: boolean; retryAfterSecs?: number; message: string };
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: unknown[];
}

export interface WorkerReport {
  environmentId: string;
  logs: LogLine[];
  /** Broker metrics recorded by this environment, by name. */
  counts: Record<string, number>;
}

export interface WorkerReplies {
  burst: CallOutcome[];
  load: CallOutcome[];
  readProfile: { versionId: string };
  report: WorkerReport;
}

/** Parent to worker. */
export interface CommandMessage {
  id: number;
  command: WorkerCommand;
}

/** Worker to parent: ready once, then one reply per command. */
export type WorkerMessage =
  | { type: 'ready'; environmentId: string }
  | { type: 'reply'; id: number; result: unknown }
  | { type: 'failed'; id: number; reason: string };
