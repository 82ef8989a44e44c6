/**
 * The whole local stack on 127.0.0.1: dynalite for DynamoDB, the Secrets
 * Manager stand-in, an oidc-provider token server configured like the Farfetch
 * STS, the stocks API, and the functions themselves served by
 * serverless-offline. It seeds one client profile (`farfetch`) whose secret is
 * generated at start, so no credential is ever written in the repository.
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { DEFAULT_SECRET_PREFIX } from '../shared/constants.js';
import { startDynamoDb, type LocalDynamoDb } from './dynamodb.js';
import { startLocalLambda, type LocalFunctionKey, type LocalLambda } from './lambda.js';
import { startSecretsManager, type LocalSecretsManager } from './secrets-manager.js';
import { INVALID_KINDS, type InvalidKind } from './stock-catalogue.js';
import { startStocksApi, type StocksApi, type StocksApiOptions } from './stocks-api.js';
import { tableNames } from './tables.js';
import { startTokenServer, type TokenServer } from './token-server.js';

export const LOCAL_STAGE = 'local';
export const LOCAL_REGION = 'eu-west-1';
export const LOCAL_PROFILE = 'farfetch';
export const LOCAL_CLIENT_ID = 'ff_amazing_client';

/** One catalogue entry in this many is served broken, to show rejections. */
export const LOCAL_INVALID_ENTRY_INTERVAL = 2_000;

export interface LocalStackOptions {
  /** Catalogue size; default 20 000. */
  totalItems?: number;
  /** Which entries are served broken; default one in 2 000. */
  invalidEntries?: StocksApiOptions['invalidEntries'];
  /** Lifetime of issued tokens; default 2 400 s, as the Farfetch STS. */
  accessTokenTtlSecs?: number;
  /** Serve the functions through serverless-offline; default true. */
  lambda?: boolean;
  /** Receives every output line of the functions. */
  onLog?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface LocalStackEndpoints {
  lambda?: string;
  dynamodb: string;
  secretsManager: string;
  tokenUrl: string;
  stocksApi: string;
}

export interface LocalStack {
  endpoints: LocalStackEndpoints;
  tables: ReturnType<typeof tableNames>;
  tokenServer: TokenServer;
  stocksApi: StocksApi;
  secretsManager: LocalSecretsManager;
  /** SDK clients of this process, pointed at the stack. */
  clients: { dynamo: DynamoDBClient; secrets: SecretsManagerClient; lambda?: LambdaClient };
  /** The seeded client's secret, for tests that must search logs for it. */
  clientSecret: string;
  functionName(key: LocalFunctionKey): string;
  /** Invokes a function through the Lambda Invoke API, as a caller would. */
  invoke(key: LocalFunctionKey, payload: unknown): Promise<InvokeResult>;
  /** Creates a client profile secret, or puts a new version of it. */
  putProfile(name: string, document: Record<string, unknown>): Promise<string>;
  stop(): Promise<void>;
}

export interface InvokeResult {
  /** Set when the function threw (`Unhandled`), as on Lambda. */
  functionError?: string;
  payload: unknown;
}

const LOCAL_CREDENTIALS = { accessKeyId: 'local-stack', secretAccessKey: 'local-stack' };

/** Starts every part; on any failure, stops what had started and rethrows. */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const stoppers: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    stoppers.length = 0;
  };
  try {
    return await assemble(options, stoppers, stopAll);
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function assemble(
  options: LocalStackOptions,
  stoppers: (() => Promise<void>)[],
  stopAll: () => Promise<void>,
): Promise<LocalStack> {
  const clientSecret = randomBytes(24).toString('base64url');
  const resourceServer = { clientId: 'stocks-api', clientSecret: randomBytes(24).toString('hex') };

  const dynamo: LocalDynamoDb = await startDynamoDb({ stage: LOCAL_STAGE });
  stoppers.push(dynamo.stop);
  const secretsManager = await startSecretsManager({ region: LOCAL_REGION });
  stoppers.push(secretsManager.stop);
  const tokenServer = await startTokenServer({
    clients: [
      {
        clientId: LOCAL_CLIENT_ID,
        clientSecret,
        authMethod: 'client_secret_post',
        scopes: ['stocks'],
      },
    ],
    resourceServer,
    ...(options.accessTokenTtlSecs ? { accessTokenTtlSecs: options.accessTokenTtlSecs } : {}),
  });
  stoppers.push(tokenServer.stop);
  const stocksApi = await startStocksApi({
    introspection: { url: tokenServer.introspectionUrl, ...resourceServer },
    totalItems: options.totalItems ?? 20_000,
    invalidEntries: options.invalidEntries ?? defaultInvalidEntries,
  });
  stoppers.push(stocksApi.stop);

  const clientConfig = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const clients: LocalStack['clients'] = {
    dynamo: new DynamoDBClient({ ...clientConfig, endpoint: dynamo.endpoint }),
    secrets: new SecretsManagerClient({ ...clientConfig, endpoint: secretsManager.endpoint }),
  };
  stoppers.push(async () => {
    clients.dynamo.destroy();
    clients.secrets.destroy();
    clients.lambda?.destroy();
  });

  const putProfile = (name: string, document: Record<string, unknown>) =>
    putSecret(clients.secrets, `${DEFAULT_SECRET_PREFIX}${name}`, JSON.stringify(document));
  await putProfile(LOCAL_PROFILE, {
    client_id: LOCAL_CLIENT_ID,
    client_secret: clientSecret,
    token_url: tokenServer.tokenUrl,
    scopes: ['stocks'],
    auth_method: 'client_secret_post',
  });

  let lambda: LocalLambda | undefined;
  if (options.lambda !== false) {
    lambda = await startLocalLambda({
      stage: LOCAL_STAGE,
      env: {
        AWS_REGION: LOCAL_REGION,
        AWS_DEFAULT_REGION: LOCAL_REGION,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.endpoint,
        // This machine runs Node 20; Lambda runs nodejs22.x, where the SDK is quiet.
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      params: { stocksApiUrl: stocksApi.url, region: LOCAL_REGION },
      ...(options.onLog ? { onLog: options.onLog } : {}),
    });
    stoppers.push(lambda.stop);
    clients.lambda = new LambdaClient({ ...clientConfig, endpoint: lambda.endpoint });
  }

  return {
    endpoints: {
      ...(lambda ? { lambda: lambda.endpoint } : {}),
      dynamodb: dynamo.endpoint,
      secretsManager: secretsManager.endpoint,
      tokenUrl: tokenServer.tokenUrl,
      stocksApi: stocksApi.url,
    },
    tables: tableNames(LOCAL_STAGE),
    tokenServer,
    stocksApi,
    secretsManager,
    clients,
    clientSecret,
    functionName: (key) => {
      if (!lambda) throw new Error('the local stack was started without Lambda');
      return lambda.functionName(key);
    },
    invoke: (key, payload) => invoke(clients.lambda, lambda, key, payload),
    putProfile,
    stop: stopAll,
  };
}

/** A deterministic sprinkling of broken entries, one kind after another. */
function defaultInvalidEntries(index: number): InvalidKind | undefined {
  if (index % LOCAL_INVALID_ENTRY_INTERVAL !== LOCAL_INVALID_ENTRY_INTERVAL - 1) return undefined;
  return INVALID_KINDS[Math.floor(index / LOCAL_INVALID_ENTRY_INTERVAL) % INVALID_KINDS.length];
}

async function putSecret(
  secrets: SecretsManagerClient,
  name: string,
  document: string,
): Promise<string> {
  try {
    const created = await secrets.send(
      new CreateSecretCommand({ Name: name, SecretString: document }),
    );
    return created.VersionId ?? '';
  } catch (error) {
    if (!(error instanceof ResourceExistsException)) throw error;
    const put = await secrets.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: document }),
    );
    return put.VersionId ?? '';
  }
}

async function invoke(
  client: LambdaClient | undefined,
  lambda: LocalLambda | undefined,
  key: LocalFunctionKey,
  payload: unknown,
): Promise<InvokeResult> {
  if (!client || !lambda) throw new Error('the local stack was started without Lambda');
  const output = await client.send(
    new InvokeCommand({
      FunctionName: lambda.functionName(key),
      Payload: Buffer.from(JSON.stringify(payload)),
    }),
  );
  const text = output.Payload ? Buffer.from(output.Payload).toString('utf8') : 'null';
  return {
    ...(output.FunctionError ? { functionError: output.FunctionError } : {}),
    payload: JSON.parse(text) as unknown,
  };
}
