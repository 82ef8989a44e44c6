/**
 * What a fleet shares: one dynalite with the tokens table, one Secrets
 * Manager stand-in holding a client profile per scenario, and one token
 * server that counts requests, all on 127.0.0.1. Each scenario has its own
 * OAuth client, so its tokens, leases and cooldowns live under their own
 * cache keys and cannot leak into another scenario. Client secrets are
 * generated at start; none is written in the repository.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { startDynamoDb, type LocalDynamoDb } from '../../local/dynamodb.js';
import { LOOPBACK_HOST } from '../../local/free-port.js';
import { startSecretsManager, type LocalSecretsManager } from '../../local/secrets-manager.js';
import { tableNames } from '../../local/tables.js';
import { startTokenServer, type TokenServer } from '../../local/token-server.js';
import { tokenCacheKey } from '../../shared/cache-key.js';
import { tokenHash } from '../../shared/redact.js';
import type { FleetConfig } from './fleet.js';

export const FLEET_REGION = 'eu-west-1';
export const FLEET_STAGE = 'fleet';
export const FLEET_SECRET_PREFIX = 'token-broker/clients/';
export const FLEET_SCOPES = ['stocks', 'orders'];

const CREDENTIALS = { accessKeyId: 'fleet-test', secretAccessKey: 'fleet-test' };

/** A scenario's client: profile name, client id, and the secret its profile holds. */
export interface FleetClient {
  name: string;
  scopes: string[];
  /** What the profile secret holds at start. */
  profileSecret: string;
  /** What the token server accepts; differs from `profileSecret` only before a rotation. */
  serverSecret: string;
}

export interface FleetStack {
  tokenServer: TokenServer;
  secretsManager: LocalSecretsManager;
  dynamo: DynamoDBClient;
  secrets: SecretsManagerClient;
  /** Broker settings shared by every worker, minus lease and refresh options. */
  workerConfig: Omit<FleetConfig, 'leaseMs' | 'leaseWaitMs' | 'refreshAheadRatio'>;
  clients: Map<string, FleetClient>;
  /** Puts a new version of a profile's secret with `clientSecret`; resolves to its version id. */
  rotate(name: string, clientSecret: string): Promise<string>;
  /** The tokens table item of a profile's default scopes (or `scopes`), raw. */
  tokenItem(name: string, scopes?: string[]): Promise<Record<string, { S?: string; N?: string }>>;
  /** True if the token server says the issued token with this hash is active (RFC 7662). */
  isActive(hash: string): Promise<boolean>;
  stop(): Promise<void>;
}

/** Secret for a client, random per run. */
function freshSecret(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * `name` → client. `rotated` names clients whose profile starts with an old
 * secret the token server no longer accepts (it knows only the new one).
 */
export function fleetClients(names: string[], rotated: string[] = []): Map<string, FleetClient> {
  return new Map(
    names.map((name) => {
      const serverSecret = freshSecret();
      const profileSecret = rotated.includes(name) ? freshSecret() : serverSecret;
      return [name, { name, scopes: [...FLEET_SCOPES], profileSecret, serverSecret }];
    }),
  );
}

/** Starts the shared servers and creates one profile secret per client. */
export async function startFleetStack(clients: Map<string, FleetClient>): Promise<FleetStack> {
  const stoppers: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const stopOne of stoppers.reverse()) await stopOne().catch(() => undefined);
    stoppers.length = 0;
  };
  try {
    return await assemble(clients, stoppers, stop);
  } catch (error) {
    await stop();
    throw error;
  }
}

async function assemble(
  clients: Map<string, FleetClient>,
  stoppers: (() => Promise<void>)[],
  stop: () => Promise<void>,
): Promise<FleetStack> {
  const resourceServer = { clientId: 'fleet-resource-server', clientSecret: freshSecret() };
  const localDynamo: LocalDynamoDb = await startDynamoDb({ stage: FLEET_STAGE });
  stoppers.push(localDynamo.stop);
  const secretsManager = await startSecretsManager({ region: FLEET_REGION });
  stoppers.push(secretsManager.stop);
  const tokenServer = await startTokenServer({
    clients: [...clients.values()].map((client) => ({
      clientId: client.name,
      clientSecret: client.serverSecret,
      authMethod: 'client_secret_post' as const,
      scopes: client.scopes,
    })),
    scopes: [...FLEET_SCOPES],
    resourceServer,
  });
  stoppers.push(tokenServer.stop);

  const sdkConfig = { region: FLEET_REGION, credentials: CREDENTIALS };
  const dynamo = new DynamoDBClient({ ...sdkConfig, endpoint: localDynamo.endpoint });
  const secrets = new SecretsManagerClient({ ...sdkConfig, endpoint: secretsManager.endpoint });
  stoppers.push(async () => {
    dynamo.destroy();
    secrets.destroy();
  });

  const profileDocument = (client: FleetClient, clientSecret: string) =>
    JSON.stringify({
      client_id: client.name,
      client_secret: clientSecret,
      token_url: tokenServer.tokenUrl,
      scopes: client.scopes,
      auth_method: 'client_secret_post',
    });
  for (const client of clients.values()) {
    await secrets.send(
      new CreateSecretCommand({
        Name: `${FLEET_SECRET_PREFIX}${client.name}`,
        SecretString: profileDocument(client, client.profileSecret),
      }),
    );
  }
  const tokensTable = tableNames(FLEET_STAGE).tokens;

  return {
    tokenServer,
    secretsManager,
    dynamo,
    secrets,
    workerConfig: {
      region: FLEET_REGION,
      dynamoDbEndpoint: localDynamo.endpoint,
      secretsManagerEndpoint: secretsManager.endpoint,
      tokensTable,
      secretPrefix: FLEET_SECRET_PREFIX,
    },
    clients,
    rotate: async (name, clientSecret) => {
      const client = clients.get(name) as FleetClient;
      const put = await secrets.send(
        new PutSecretValueCommand({
          SecretId: `${FLEET_SECRET_PREFIX}${name}`,
          SecretString: profileDocument(client, clientSecret),
        }),
      );
      return put.VersionId ?? '';
    },
    tokenItem: async (name, scopes = FLEET_SCOPES) => {
      const cacheKey = tokenCacheKey({ tokenUrl: tokenServer.tokenUrl, clientId: name }, scopes);
      const reply = await dynamo.send(
        new GetItemCommand({
          TableName: tokensTable,
          Key: { cacheKey: { S: cacheKey } },
          ConsistentRead: true,
        }),
      );
      return (reply.Item ?? {}) as Record<string, { S?: string; N?: string }>;
    },
    isActive: async (hash) => {
      const token = tokenServer.issuedTokens().find((issued) => tokenHash(issued) === hash);
      if (!token) return false;
      const reply = await fetch(tokenServer.introspectionUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(
            `${resourceServer.clientId}:${resourceServer.clientSecret}`,
          ).toString('base64')}`,
        },
        body: new URLSearchParams({ token }),
      });
      return ((await reply.json()) as { active?: boolean }).active === true;
    },
    stop,
  };
}

/** A loopback port nothing listens on: bound by the kernel, then released. */
export async function closedLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK_HOST, resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port was bound');
  return address.port;
}
