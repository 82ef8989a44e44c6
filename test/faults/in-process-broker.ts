/**
 * One token broker environment in the test process: the real `TokenBroker`,
 * `ClientProfileStore`, `TokenEndpointClient` and `TokenTable` over real SDK
 * clients pointed only at the loopback endpoints given, with short timeouts
 * so a fault costs a second rather than a Lambda timeout. Logs and metrics
 * are recorded for assertions and leak searches.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { TokenBroker, type TokenBrokerOptions } from '../../shared/broker.js';
import { ClientProfileStore } from '../../shared/client-profile-store.js';
import type { BrokerMetrics, CountMetric } from '../../shared/metrics.js';
import { TokenEndpointClient, type TokenEndpointOptions } from '../../shared/token-endpoint.js';
import { TokenTable } from '../../shared/token-table.js';
import { LogRecorder } from '../helpers/log-recorder.js';

/** SDK attempts per call: one retry, so a throttled or dead endpoint fails in about a second. */
export const SDK_MAX_ATTEMPTS = 2;

/** Token endpoint bounds, far below the product's 5 s per attempt and 8 s in all. */
export const TEST_TOKEN_TIMEOUTS: Partial<TokenEndpointOptions> = {
  requestTimeoutMs: 250,
  deadlineMs: 1_000,
  baseDelayMs: 20,
};

export interface InProcessBrokerConfig {
  region: string;
  dynamoDbEndpoint: string;
  secretsManagerEndpoint: string;
  tokensTable: string;
  secretPrefix: string;
  environmentId: string;
  /** How long a profile is reused before Secrets Manager is read again; default 300 s. */
  profileTtlSecs?: number;
  tokenEndpoint?: Partial<TokenEndpointOptions>;
  options?: TokenBrokerOptions;
}

export interface InProcessBroker {
  broker: TokenBroker;
  log: LogRecorder;
  counts: Partial<Record<CountMetric, number>>;
  /** Closes the SDK clients' sockets. */
  destroy(): void;
}

export function inProcessBroker(config: InProcessBrokerConfig): InProcessBroker {
  const sdkConfig = {
    region: config.region,
    credentials: { accessKeyId: 'fault-test', secretAccessKey: 'fault-test' },
    maxAttempts: SDK_MAX_ATTEMPTS,
    // `socketTimeout` ends a stalled request; this handler's `requestTimeout` only warns.
    requestHandler: { connectionTimeout: 500, socketTimeout: 1_000 },
  };
  const dynamo = new DynamoDBClient({ ...sdkConfig, endpoint: config.dynamoDbEndpoint });
  const secrets = new SecretsManagerClient({
    ...sdkConfig,
    endpoint: config.secretsManagerEndpoint,
  });
  const log = new LogRecorder();
  const counts: InProcessBroker['counts'] = {};
  const metrics: BrokerMetrics = {
    count: (name, value = 1) => void (counts[name] = (counts[name] ?? 0) + value),
    duration: () => undefined,
  };

  const broker = new TokenBroker({
    profiles: new ClientProfileStore(secrets, {
      prefix: config.secretPrefix,
      log,
      ...(config.profileTtlSecs === undefined ? {} : { ttlSecs: config.profileTtlSecs }),
    }),
    tokenEndpoint: new TokenEndpointClient({
      ...TEST_TOKEN_TIMEOUTS,
      ...config.tokenEndpoint,
      log,
    }),
    tokens: new TokenTable(dynamo, config.tokensTable),
    log,
    metrics,
    environmentId: config.environmentId,
    ...(config.options ? { options: config.options } : {}),
  });
  return {
    broker,
    log,
    counts,
    destroy: () => {
      dynamo.destroy();
      secrets.destroy();
    },
  };
}
