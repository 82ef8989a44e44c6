/**
 * One simulated Lambda execution environment for the fleet test: a child
 * process with its own `TokenBroker`, real SDK clients pointed only at the
 * loopback endpoints in its config, and answers to the commands of
 * `worker-protocol.ts`. Run as `node --import tsx test/fleet/broker-worker.ts
 * '<WorkerConfig as JSON>'` through `child_process.fork`.
 *
 * It prints nothing: logs and metrics are kept in memory and handed over on
 * a `report` command, so the parent can search them for leaked tokens. It
 * exits when its parent goes away, and after `MAX_LIFETIME_MS` in any case.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { TokenBroker } from '../../shared/broker.js';
import type { BrokerRequest } from '../../shared/broker-request.js';
import { ClientProfileStore } from '../../shared/client-profile-store.js';
import { BrokerError } from '../../shared/errors.js';
import type { Log } from '../../shared/logger.js';
import type { BrokerMetrics } from '../../shared/metrics.js';
import { tokenHash } from '../../shared/redact.js';
import { TokenEndpointClient } from '../../shared/token-endpoint.js';
import { TokenTable } from '../../shared/token-table.js';
import type {
  BurstCommand,
  CallOutcome,
  CommandMessage,
  LoadCommand,
  LogLine,
  WorkerCommand,
  WorkerConfig,
  WorkerMessage,
  WorkerReport,
} from './worker-protocol.js';

/** A worker never outlives a test file, even if its parent forgets it. */
const MAX_LIFETIME_MS = 120_000;

/** Longest load a command may ask for. */
const MAX_LOAD_MS = 30_000;

/** How long calls still in flight at the end of a load may take to settle. */
const LOAD_DRAIN_MS = 10_000;

/** Bounds on every SDK call, so a dead endpoint fails fast instead of hanging. */
const SDK_CONNECTION_TIMEOUT_MS = 1_000;
const SDK_REQUEST_TIMEOUT_MS = 3_000;

const config = JSON.parse(process.argv[2] ?? '') as WorkerConfig;
const logs: LogLine[] = [];
const counts: Record<string, number> = {};

const log: Log = {
  debug: (message: unknown, ...fields: unknown[]) => record('debug', message, fields),
  info: (message: unknown, ...fields: unknown[]) => record('info', message, fields),
  warn: (message: unknown, ...fields: unknown[]) => record('warn', message, fields),
  error: (message: unknown, ...fields: unknown[]) => record('error', message, fields),
};

const metrics: BrokerMetrics = {
  count: (name, value = 1) => void (counts[name] = (counts[name] ?? 0) + value),
  duration: () => undefined,
};

const sdkConfig = {
  region: config.region,
  credentials: { accessKeyId: 'fleet-test', secretAccessKey: 'fleet-test' },
  requestHandler: {
    connectionTimeout: SDK_CONNECTION_TIMEOUT_MS,
    requestTimeout: SDK_REQUEST_TIMEOUT_MS,
    // Without this the SDK only warns when the request timeout passes.
    throwOnRequestTimeout: true,
  },
};
const profiles = new ClientProfileStore(
  new SecretsManagerClient({ ...sdkConfig, endpoint: config.secretsManagerEndpoint }),
  { prefix: config.secretPrefix, log },
);
const broker = new TokenBroker({
  profiles,
  tokenEndpoint: new TokenEndpointClient({ log }),
  tokens: new TokenTable(
    new DynamoDBClient({ ...sdkConfig, endpoint: config.dynamoDbEndpoint }),
    config.tokensTable,
  ),
  log,
  metrics,
  environmentId: config.environmentId,
  options: {
    leaseMs: config.leaseMs,
    leaseWaitMs: config.leaseWaitMs,
    refreshAheadRatio: config.refreshAheadRatio,
  },
});

function record(level: LogLine['level'], message: unknown, fields: unknown[]): void {
  logs.push({ level, message: String(message), fields });
}

/** One `getToken` call, timed, with the token replaced by its hash. */
async function call(request: BrokerRequest): Promise<CallOutcome> {
  const startedAtMs = Date.now();
  try {
    const reply = await broker.getToken(request);
    const receivedAtMs = Date.now();
    return {
      startedAtMs,
      receivedAtMs,
      latencyMs: receivedAtMs - startedAtMs,
      token: {
        source: reply.source,
        expiresAt: reply.expiresAt,
        tokenHash: tokenHash(reply.accessToken),
        scope: reply.scope,
      },
    };
  } catch (error) {
    const receivedAtMs = Date.now();
    return {
      startedAtMs,
      receivedAtMs,
      latencyMs: receivedAtMs - startedAtMs,
      error: failure(error),
    };
  }
}

function failure(error: unknown): NonNullable<CallOutcome['error']> {
  if (error instanceof BrokerError) {
    return {
      code: error.code,
      retryable: error.retryable,
      ...(error.retryAfterSecs === undefined ? {} : { retryAfterSecs: error.retryAfterSecs }),
      message: error.message,
    };
  }
  const name = error instanceof Error ? error.name : 'UnknownError';
  return { code: `unexpected:${name}`, retryable: false, message: String(error) };
}

function requestOf(command: BurstCommand | LoadCommand): BrokerRequest {
  return {
    client: command.client,
    ...(command.scopes ? { scopes: command.scopes } : {}),
    ...('rejectedTokenHash' in command && command.rejectedTokenHash
      ? { rejectedTokenHash: command.rejectedTokenHash }
      : {}),
  };
}

async function burst(command: BurstCommand): Promise<CallOutcome[]> {
  const request = requestOf(command);
  return Promise.all(Array.from({ length: command.concurrency }, () => call(request)));
}

/** Open-loop load: a call starts every interval whether or not earlier ones returned. */
async function load(command: LoadCommand): Promise<CallOutcome[]> {
  const request = requestOf(command);
  const endsAtMs = Date.now() + Math.min(command.durationMs, MAX_LOAD_MS);
  const calls: Promise<CallOutcome>[] = [];
  while (Date.now() < endsAtMs) {
    calls.push(call(request));
    await new Promise((resolve) => setTimeout(resolve, command.intervalMs));
  }
  const drained = Promise.all(calls);
  const deadline = new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(new Error('calls still pending after the load')),
      LOAD_DRAIN_MS,
    ).unref(),
  );
  return Promise.race([drained, deadline]);
}

async function run(command: WorkerCommand): Promise<unknown> {
  switch (command.type) {
    case 'burst':
      return burst(command);
    case 'load':
      return load(command);
    case 'readProfile':
      return { versionId: (await profiles.get(command.client)).versionId };
    case 'report':
      await broker.settled();
      return { environmentId: config.environmentId, logs, counts } satisfies WorkerReport;
  }
}

function send(message: WorkerMessage): void {
  process.send?.(message);
}

process.on('message', (message: CommandMessage) => {
  run(message.command).then(
    (result) => send({ type: 'reply', id: message.id, result }),
    (error: unknown) =>
      send({ type: 'failed', id: message.id, reason: failure(error).message.slice(0, 200) }),
  );
});
process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(2), MAX_LIFETIME_MS).unref();

send({ type: 'ready', environmentId: config.environmentId });
