/**
 * One simulated Lambda environment for figures 1 and 2: a child process that
 * gets tokens by one strategy and times every call itself, so the parent's
 * IPC never sits inside a measured interval. Started by `worker-process.ts`
 * as a bundle under plain `node` with the config as its one argument.
 *
 * - `naive`: one token request per call, as a Lambda with no cache does;
 * - `per-environment`: `PerEnvironmentTokenCache`, as in-process libraries do;
 * - `broker`: the product's `TokenBroker`, with its own memory and the shared
 *   DynamoDB table.
 *
 * Every strategy reads the client profile through the product's
 * `ClientProfileStore` (one Secrets Manager read per environment), so the
 * strategies differ only in how they get tokens. It prints nothing, exits
 * when its parent goes away, and after `MAX_LIFETIME_MS` in any case.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { TokenBroker } from '../../shared/broker.js';
import { ClientProfileStore } from '../../shared/client-profile-store.js';
import type { BrokerMetrics } from '../../shared/metrics.js';
import { tokenHash } from '../../shared/redact.js';
import { TokenEndpointClient } from '../../shared/token-endpoint.js';
import { TokenTable } from '../../shared/token-table.js';
import { PerEnvironmentTokenCache } from '../per-environment-cache.js';
import { quietLog, sdkConfig, serveCommands } from './environment.js';
import type { CallSample, TokenWorkerConfig, WorkerCommand } from './protocol.js';

/** A worker never outlives a benchmark figure, even if its parent forgets it. */
const MAX_LIFETIME_MS = 180_000;

/** Longest load a command may ask for. */
const MAX_LOAD_MS = 60_000;

/** How long calls still in flight at the end of a load may take to settle. */
const LOAD_DRAIN_MS = 20_000;

interface ServedToken {
  accessToken: string;
  expiresAt: number;
  source: string;
}

const config = JSON.parse(process.argv[2] ?? '') as TokenWorkerConfig;
const counts: Record<string, number> = {};

const metrics: BrokerMetrics = {
  count: (name, value = 1) => void (counts[name] = (counts[name] ?? 0) + value),
  duration: () => undefined,
};

const sdk = sdkConfig(config.endpoints);
const profiles = new ClientProfileStore(
  new SecretsManagerClient({ ...sdk, endpoint: config.endpoints.secretsManagerEndpoint }),
  { prefix: config.endpoints.secretPrefix, log: quietLog },
);
const tokenEndpoint = new TokenEndpointClient({ log: quietLog });
const getToken = strategyFor(config);

function strategyFor({ strategy, endpoints, refreshAheadRatio }: TokenWorkerConfig) {
  const client = endpoints.profileName;
  if (strategy === 'naive') {
    return async (): Promise<ServedToken> => {
      const { profile } = await profiles.get(client);
      const grant = await tokenEndpoint.requestToken(profile, profile.scopes);
      return { ...grant, source: 'token_endpoint' };
    };
  }
  if (strategy === 'per-environment') {
    const cache = new PerEnvironmentTokenCache(tokenEndpoint);
    return async (): Promise<ServedToken> => {
      const { profile } = await profiles.get(client);
      return cache.getToken(profile, profile.scopes);
    };
  }
  const broker = new TokenBroker({
    profiles,
    tokenEndpoint,
    tokens: new TokenTable(
      new DynamoDBClient({ ...sdk, endpoint: endpoints.dynamoDbEndpoint }),
      endpoints.tables.tokens,
    ),
    log: quietLog,
    metrics,
    environmentId: config.environmentId,
    ...(refreshAheadRatio === undefined ? {} : { options: { refreshAheadRatio } }),
  });
  return () => broker.getToken({ client });
}

/** One call, timed here, with the token replaced by its hash. */
async function call(): Promise<CallSample> {
  const startedAtMs = Date.now();
  const started = performance.now();
  try {
    const token = await getToken();
    const latencyMs = performance.now() - started;
    return {
      startedAtMs,
      receivedAtMs: Date.now(),
      latencyMs,
      source: token.source,
      waitedOnTokenServer: token.source === 'token_endpoint',
      expiresAt: token.expiresAt,
      tokenHash: tokenHash(token.accessToken),
    };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return {
      startedAtMs,
      receivedAtMs: Date.now(),
      latencyMs: performance.now() - started,
      waitedOnTokenServer: false,
      error: typeof code === 'string' ? code : error instanceof Error ? error.name : 'unknown',
    };
  }
}

function burst(concurrency: number): Promise<CallSample[]> {
  return Promise.all(Array.from({ length: concurrency }, () => call()));
}

/** Open loop: a call starts every interval whether or not earlier ones returned. */
async function load(durationMs: number, intervalMs: number): Promise<CallSample[]> {
  const startedMs = Date.now();
  const endsAtMs = startedMs + Math.min(durationMs, MAX_LOAD_MS);
  const calls: Promise<CallSample>[] = [];
  // Calls are scheduled on a fixed grid, so a slow call cannot delay the next.
  for (let n = 0; startedMs + n * intervalMs < endsAtMs; n++) {
    const dueMs = startedMs + n * intervalMs;
    const waitMs = dueMs - Date.now();
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    calls.push(call());
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error('calls still pending after the load')),
      LOAD_DRAIN_MS,
    );
  });
  try {
    return await Promise.race([Promise.all(calls), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function run(command: WorkerCommand): Promise<unknown> {
  switch (command.type) {
    case 'burst':
      return burst(command.concurrency);
    case 'load':
      return load(command.durationMs, command.intervalMs);
    case 'counts':
      return { ...counts };
  }
}

serveCommands((command) => run(command as WorkerCommand), MAX_LIFETIME_MS);
