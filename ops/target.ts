/**
 * Which deployment the CLI operates on: the stage (table and function names),
 * the region and the secret prefix, and the AWS SDK clients to reach it.
 * Endpoints come only from the SDK's own `AWS_ENDPOINT_URL_<SERVICE>`
 * variables; `--local` sets those from the JSON line `npm run -s stack`
 * prints, with dummy credentials, and accepts only loopback addresses.
 */
import { readFile } from 'node:fs/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SERVICE_NAME, tableNames } from '../local/tables.js';
import { DEFAULT_SECRET_PREFIX } from '../shared/constants.js';
import type { GlobalOptions } from './arguments.js';
import { UsageError } from './errors.js';

export const DEFAULT_STAGE = 'dev';
export const LOCAL_STACK_STAGE = 'local';

/** Standard AWS SDK endpoint variables, the only way an endpoint is chosen. */
export const ENDPOINT_VARIABLES = {
  dynamodb: 'AWS_ENDPOINT_URL_DYNAMODB',
  secretsManager: 'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  lambda: 'AWS_ENDPOINT_URL_LAMBDA',
} as const;

/** The local stack signs nothing; these only satisfy the SDK. */
const LOCAL_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'local-stack',
  AWS_SECRET_ACCESS_KEY: 'local-stack',
};

export interface Target {
  stage: string;
  region?: string;
  secretPrefix: string;
  tables: ReturnType<typeof tableNames>;
  stockSyncFunction: string;
}

export interface AwsClients {
  readonly dynamo: DynamoDBClient;
  readonly secrets: SecretsManagerClient;
  readonly lambda: LambdaClient;
  destroy(): void;
}

/** What `npm run -s stack` prints, as far as the CLI needs it. */
interface LocalStackLine {
  region?: unknown;
  endpoints?: { lambda?: unknown; dynamodb?: unknown; secretsManager?: unknown };
  secretPrefix?: unknown;
}

/**
 * The target of this run. With `--local`, the process environment is pointed
 * at the local stack first, so every SDK client created afterwards uses it.
 */
export async function resolveTarget(
  options: GlobalOptions,
  readStdin: () => Promise<string>,
): Promise<Target> {
  let local: { region: string; secretPrefix: string } | undefined;
  if (options.local !== undefined) {
    const text = options.local === '-' ? await readStdin() : await readLocalFile(options.local);
    local = useLocalStack(text, process.env);
  }
  const stage = options.stage ?? (local ? LOCAL_STACK_STAGE : DEFAULT_STAGE);
  const region = options.region ?? local?.region;
  return {
    stage,
    ...(region !== undefined ? { region } : {}),
    secretPrefix: options.secretPrefix ?? local?.secretPrefix ?? DEFAULT_SECRET_PREFIX,
    tables: tableNames(stage),
    stockSyncFunction: `${SERVICE_NAME}-${stage}-stockSync`,
  };
}

/**
 * Points `env` at the local stack described by one JSON line of
 * `npm run -s stack`: its endpoints, dummy credentials, no instance metadata.
 * Refuses any endpoint that is not on 127.0.0.1, so a wrong file can never
 * send requests elsewhere.
 */
export function useLocalStack(
  text: string,
  env: NodeJS.ProcessEnv,
): { region: string; secretPrefix: string } {
  const line = parseStackLine(text);
  const endpoints = {
    dynamodb: loopbackUrl(line.endpoints?.dynamodb, 'endpoints.dynamodb'),
    secretsManager: loopbackUrl(line.endpoints?.secretsManager, 'endpoints.secretsManager'),
    lambda: loopbackUrl(line.endpoints?.lambda, 'endpoints.lambda'),
  };
  const region = typeof line.region === 'string' ? line.region : 'eu-west-1';

  for (const [service, variable] of Object.entries(ENDPOINT_VARIABLES)) {
    env[variable] = endpoints[service as keyof typeof endpoints];
  }
  Object.assign(env, LOCAL_CREDENTIALS, { AWS_REGION: region, AWS_EC2_METADATA_DISABLED: 'true' });
  delete env.AWS_SESSION_TOKEN;
  delete env.AWS_PROFILE;
  return {
    region,
    secretPrefix: typeof line.secretPrefix === 'string' ? line.secretPrefix : DEFAULT_SECRET_PREFIX,
  };
}

/** SDK clients created on first use, so a command pays only for what it calls. */
export function awsClients(target: Target): AwsClients {
  const config = target.region ? { region: target.region } : {};
  let dynamo: DynamoDBClient | undefined;
  let secrets: SecretsManagerClient | undefined;
  let lambda: LambdaClient | undefined;
  return {
    get dynamo() {
      return (dynamo ??= new DynamoDBClient(config));
    },
    get secrets() {
      return (secrets ??= new SecretsManagerClient(config));
    },
    get lambda() {
      return (lambda ??= new LambdaClient(config));
    },
    destroy() {
      dynamo?.destroy();
      secrets?.destroy();
      lambda?.destroy();
    },
  };
}

async function readLocalFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--local: cannot read ${file}`, { cause: error });
  }
}

function parseStackLine(text: string): LocalStackLine {
  // The last line that parses wins, so a file holding the stack's whole output works too.
  const lines = text.split('\n').filter((line) => line.trim().startsWith('{'));
  for (const line of lines.reverse()) {
    try {
      const value = JSON.parse(line) as unknown;
      if (typeof value === 'object' && value !== null && 'endpoints' in value) {
        return value as LocalStackLine;
      }
    } catch {
      // Not the endpoints line; keep looking.
    }
  }
  throw new UsageError('--local: no JSON line with "endpoints" (run `npm run -s stack`)');
}

function loopbackUrl(value: unknown, field: string): string {
  if (typeof value !== 'string' || !URL.canParse(value)) {
    throw new UsageError(`--local: ${field} must be a URL`);
  }
  const url = new URL(value);
  if (url.protocol !== 'http:' || url.hostname !== '127.0.0.1') {
    throw new UsageError(`--local: ${field} must be an http URL on 127.0.0.1`);
  }
  return value;
}
