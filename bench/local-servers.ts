/**
 * The parts of the local stack the benchmark needs, started directly from
 * `local/` (no serverless-offline): dynalite with the product's tables, in
 * a child process of its own as DynamoDB is a service of its own; and in
 * this process the Secrets Manager stand-in holding one client profile, the
 * oidc-provider token server, and, on demand, the stocks API. Everything
 * listens on 127.0.0.1 at a free port; the client secret is generated at
 * start.
 */
import { randomBytes } from 'node:crypto';
import { DeleteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { startSecretsManager } from '../local/secrets-manager.js';
import { startStocksApi, type StocksApi } from '../local/stocks-api.js';
import { tableNames } from '../local/tables.js';
import { startTokenServer, type TokenServer } from '../local/token-server.js';
import { tokenCacheKey } from '../shared/cache-key.js';
import type { ClientProfile } from '../shared/client-profile.js';
import { DEFAULT_SECRET_PREFIX } from '../shared/constants.js';
import { BENCH_CREDENTIALS } from './credentials.js';
import { startDynamoDbProcess } from './dynamodb-process.js';

export const BENCH_REGION = 'eu-west-1';
export const BENCH_STAGE = 'bench';
export const BENCH_PROFILE = 'bench';
export const BENCH_CLIENT_ID = 'bench_client';
export const BENCH_SCOPES = ['stocks'];

/** What a worker process needs to reach the servers; passed to it as JSON. */
export interface ServerEndpoints {
  region: string;
  dynamoDbEndpoint: string;
  secretsManagerEndpoint: string;
  tokenUrl: string;
  tables: ReturnType<typeof tableNames>;
  secretPrefix: string;
  profileName: string;
}

export interface BenchServers {
  endpoints: ServerEndpoints;
  tokenServer: TokenServer;
  dynamo: DynamoDBClient;
  /** The client profile as the broker reads it from its secret. */
  profile: ClientProfile;
  /** Removes the shared token item, so the next trial starts with an empty table. */
  clearSharedToken(): Promise<void>;
  /** Starts the stocks API with `totalItems` records, checked against the token server. */
  startStocksApi(totalItems: number): Promise<StocksApi>;
  stop(): Promise<void>;
}

/** Starts the servers; on any failure, stops what had started and rethrows. */
export async function startBenchServers(): Promise<BenchServers> {
  const stoppers: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const stopOne of stoppers.reverse()) await stopOne().catch(() => undefined);
    stoppers.length = 0;
  };
  try {
    return await assemble(stoppers, stop);
  } catch (error) {
    await stop();
    throw error;
  }
}

async function assemble(
  stoppers: (() => Promise<void>)[],
  stop: () => Promise<void>,
): Promise<BenchServers> {
  const clientSecret = randomBytes(24).toString('base64url');
  const resourceServer = {
    clientId: 'bench-stocks-api',
    clientSecret: randomBytes(24).toString('hex'),
  };

  const localDynamo = await startDynamoDbProcess(BENCH_STAGE);
  stoppers.push(localDynamo.stop);
  const secretsManager = await startSecretsManager({ region: BENCH_REGION });
  stoppers.push(secretsManager.stop);
  const tokenServer = await startTokenServer({
    clients: [
      {
        clientId: BENCH_CLIENT_ID,
        clientSecret,
        authMethod: 'client_secret_post',
        scopes: BENCH_SCOPES,
      },
    ],
    resourceServer,
  });
  stoppers.push(tokenServer.stop);

  const sdkConfig = { region: BENCH_REGION, credentials: BENCH_CREDENTIALS };
  const dynamo = new DynamoDBClient({ ...sdkConfig, endpoint: localDynamo.endpoint });
  const secrets = new SecretsManagerClient({ ...sdkConfig, endpoint: secretsManager.endpoint });
  stoppers.push(async () => {
    dynamo.destroy();
    secrets.destroy();
  });

  const profile: ClientProfile = {
    clientId: BENCH_CLIENT_ID,
    clientSecret,
    tokenUrl: tokenServer.tokenUrl,
    scopes: BENCH_SCOPES,
    authMethod: 'client_secret_post',
  };
  await secrets.send(
    new CreateSecretCommand({
      Name: `${DEFAULT_SECRET_PREFIX}${BENCH_PROFILE}`,
      SecretString: JSON.stringify({
        client_id: profile.clientId,
        client_secret: clientSecret,
        token_url: profile.tokenUrl,
        scopes: profile.scopes,
        auth_method: profile.authMethod,
      }),
    }),
  );

  const tables = tableNames(BENCH_STAGE);
  const cacheKey = tokenCacheKey(profile, profile.scopes);

  return {
    endpoints: {
      region: BENCH_REGION,
      dynamoDbEndpoint: localDynamo.endpoint,
      secretsManagerEndpoint: secretsManager.endpoint,
      tokenUrl: tokenServer.tokenUrl,
      tables,
      secretPrefix: DEFAULT_SECRET_PREFIX,
      profileName: BENCH_PROFILE,
    },
    tokenServer,
    dynamo,
    profile,
    clearSharedToken: async () => {
      await dynamo.send(
        new DeleteItemCommand({ TableName: tables.tokens, Key: { cacheKey: { S: cacheKey } } }),
      );
    },
    startStocksApi: async (totalItems) => {
      const api = await startStocksApi({
        introspection: { url: tokenServer.introspectionUrl, ...resourceServer },
        totalItems,
      });
      stoppers.push(api.stop);
      return api;
    },
    stop,
  };
}
