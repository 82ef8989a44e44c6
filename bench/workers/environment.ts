/**
 * What every bundled benchmark worker builds first: SDK settings pointed only
 * at the loopback endpoints it was given, with static credentials, a quiet
 * log, and a broker wired like the function's (its own memory, the shared
 * table, the profile secret read once).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { TokenBroker } from '../../shared/broker.js';
import { ClientProfileStore } from '../../shared/client-profile-store.js';
import type { Log } from '../../shared/logger.js';
import { TokenEndpointClient } from '../../shared/token-endpoint.js';
import { TokenTable } from '../../shared/token-table.js';
import { BENCH_CREDENTIALS } from '../credentials.js';
import type { ServerEndpoints } from '../local-servers.js';
import type { WorkerMessage } from './protocol.js';

/** Bounds on every SDK call, so a dead endpoint fails fast instead of hanging. */
const SDK_CONNECTION_TIMEOUT_MS = 2_000;
const SDK_REQUEST_TIMEOUT_MS = 15_000;

/** Discards every line: workers print nothing, and the product logs no tokens anyway. */
export const quietLog: Log = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export function sdkConfig(endpoints: ServerEndpoints) {
  return {
    region: endpoints.region,
    credentials: BENCH_CREDENTIALS,
    requestHandler: {
      connectionTimeout: SDK_CONNECTION_TIMEOUT_MS,
      requestTimeout: SDK_REQUEST_TIMEOUT_MS,
    },
  };
}

/** The pieces a broker is built from, each pointed at the bench servers. */
export function brokerParts(endpoints: ServerEndpoints) {
  const config = sdkConfig(endpoints);
  const dynamo = new DynamoDBClient({ ...config, endpoint: endpoints.dynamoDbEndpoint });
  const profiles = new ClientProfileStore(
    new SecretsManagerClient({ ...config, endpoint: endpoints.secretsManagerEndpoint }),
    { prefix: endpoints.secretPrefix, log: quietLog },
  );
  const tokenEndpoint = new TokenEndpointClient({ log: quietLog });
  const tokens = new TokenTable(dynamo, endpoints.tables.tokens);
  const newBroker = () => new TokenBroker({ profiles, tokenEndpoint, tokens, log: quietLog });
  return { dynamo, profiles, tokenEndpoint, tokens, newBroker };
}

/** Answers the parent's commands with `run`; exits with the parent or after `maxLifetimeMs`. */
export function serveCommands(
  run: (command: { type: string }) => Promise<unknown>,
  maxLifetimeMs: number,
): void {
  const send = (message: WorkerMessage) => process.send?.(message);
  process.on('message', (message: { id: number; command: { type: string } }) => {
    run(message.command).then(
      (result) => send({ type: 'reply', id: message.id, result }),
      (error: unknown) =>
        send({ type: 'failed', id: message.id, reason: String(error).slice(0, 300) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  setTimeout(() => process.exit(2), maxLifetimeMs).unref();
  send({ type: 'ready' });
}
