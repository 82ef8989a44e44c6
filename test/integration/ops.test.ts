/*
 * The operations CLI driven as a child process against one local stack, the
 * way an operator runs it: endpoints only through the standard
 * `AWS_ENDPOINT_URL_<SERVICE>` variables (or `--local`), static dummy
 * credentials, secrets piped on standard input. Every output is kept, and the
 * last test searches all of it for the client secrets and every issued token.
 *
 * The rotation profile's token URL is a small proxy in front of the token
 * server that records, at the moment each token request arrives, what the
 * tokens table and Secrets Manager hold: that is how the tests prove that a
 * rotation puts the secret and purges the cache only after the new secret
 * obtained a token.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { devNull, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenOnFreePort, stopServer } from '../../local/free-port.js';
import {
  LOCAL_CLIENT_ID,
  LOCAL_PROFILE,
  LOCAL_REGION,
  startLocalStack,
  type LocalStack,
} from '../../local/stack.js';
import { COMMANDS } from '../../ops/command-specs.js';
import { DEFAULT_SECRET_PREFIX } from '../../shared/constants.js';
import { tokenHash } from '../../shared/redact.js';

const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI_TIMEOUT_MS = 30_000;
const TOTAL_ITEMS = 1_000;
const ROTATION_PROFILE = 'ops-rotation';
const WRONG_SECRET = 'wrong-secret-for-the-ops-test';

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** What the tokens table and Secrets Manager held when a token request arrived. */
interface Snapshot {
  cachedTokenHash: string | undefined;
  secretVersion: string | undefined;
}

let stack: LocalStack;
let proxy: Server;
let proxyTokenUrl: string;
let scratchDir: string;
const snapshots: Snapshot[] = [];
/** The rotation profile's token that the warm broker still holds in memory. */
let rotationTokenInMemory: string;
const outputs: string[] = [];

beforeAll(async () => {
  stack = await startLocalStack({
    totalItems: TOTAL_ITEMS,
    invalidEntries: new Map([[5, 'negative-quantity' as const]]),
  });
  proxy = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      void forwardTokenRequest(request.headers, Buffer.concat(chunks)).then(
        ({ status, contentType, body }) => {
          response.writeHead(status, { 'content-type': contentType });
          response.end(body);
        },
        () => {
          response.writeHead(502);
          response.end();
        },
      );
    });
  });
  proxyTokenUrl = `${(await listenOnFreePort(proxy)).url}/connect/token`;
  scratchDir = await mkdtemp(path.join(tmpdir(), 'token-broker-ops-'));
});

afterAll(async () => {
  if (proxy) await stopServer(proxy);
  await stack?.stop();
  if (scratchDir) await rm(scratchDir, { recursive: true, force: true });
});

describe('ops CLI usage', () => {
  it('prints help with the exit codes for every command, exit code 0', async () => {
    const runs = await Promise.all([
      ops(['--help']),
      ...COMMANDS.map((command) => ops([...command.id.split(' '), '--help'])),
    ]);

    for (const [index, run] of runs.entries()) {
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('Exit codes:');
      if (index > 0)
        expect(run.stdout).toContain(`Usage: token-broker-ops ${COMMANDS[index - 1]!.id}`);
    }
    expect(runs[0]!.stdout).toContain('profile rotate');
  });

  it('refuses a secret given as an argument, exit code 2, without repeating it', async () => {
    const run = await ops(['profile', 'add', 'x', '--client-secret=hunter2-value']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--client-secret is refused');
    expect(run.stderr).toContain('--secret-stdin');
    expect(run.stdout + run.stderr).not.toContain('hunter2-value');
  });

  it('answers exit code 2 for an unknown command, a missing argument or a stray option', async () => {
    const [unknown, missing, stray] = await Promise.all([
      ops(['profile', 'delete', 'x']),
      ops(['profile', 'show']),
      ops(['tokens', 'status', '--check']),
    ]);

    expect([unknown.code, missing.code, stray.code]).toEqual([2, 2, 2]);
    expect(unknown.stderr).toContain('unknown command "profile delete"');
    expect(missing.stderr).toContain('profile show takes <name>');
    expect(stray.stderr).toContain('--check does not apply to tokens status');
  });

  it('asks for --secret-stdin when standard input is not a terminal', async () => {
    const run = await ops(addArguments('no-tty', proxyTokenUrl), { stdin: 'ignored\n' });

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--secret-stdin');
  });
});

describe('ops profile', () => {
  it('adds a profile with the secret from standard input, proven by one token', async () => {
    const run = await ops(
      [...addArguments(ROTATION_PROFILE, proxyTokenUrl), '--secret-stdin', '--check'],
      {
        stdin: `${stack.clientSecret}\n`,
      },
    );

    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Created profile ${ROTATION_PROFILE}`);
    expect(run.stdout).toMatch(/check\s+token [0-9a-f]{12}, scope stocks/);
    expect(snapshots).toHaveLength(1);
    expect(snapshots[0]!.secretVersion).toBeUndefined();
    expect(JSON.parse(await secretString(ROTATION_PROFILE))).toEqual({
      client_id: LOCAL_CLIENT_ID,
      token_url: proxyTokenUrl,
      scopes: ['stocks'],
      auth_method: 'client_secret_post',
      client_secret: stack.clientSecret,
    });
  });

  it('creates nothing when --check is refused, exit code 1', async () => {
    const run = await ops(
      [...addArguments('ops-refused', stack.endpoints.tokenUrl), '--secret-stdin', '--check'],
      {
        stdin: WRONG_SECRET,
      },
    );

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('(invalid_client)');
    expect(run.stderr).toContain('nothing was changed');
    await expect(
      stack.clients.secrets.send(
        new DescribeSecretCommand({ SecretId: `${DEFAULT_SECRET_PREFIX}ops-refused` }),
      ),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('refuses an existing name, exit code 1', async () => {
    const run = await ops(
      [...addArguments(LOCAL_PROFILE, stack.endpoints.tokenUrl), '--secret-stdin'],
      {
        stdin: stack.clientSecret,
      },
    );

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('already exists');
  });

  it.each([
    ['a token URL that is not https', ['--token-url', 'http://example.com/token'], 'token_url'],
    ['a malformed scope', ['--scopes', 'stocks "quoted"'], 'scopes[1]'],
    ['an unknown auth method', ['--auth-method', 'magic'], '--auth-method'],
  ])('refuses %s, exit code 2', async (_case, extra, named) => {
    const run = await ops(
      [...addArguments('ops-invalid', stack.endpoints.tokenUrl), ...extra, '--secret-stdin'],
      {
        stdin: 'some-secret',
      },
    );

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(named);
  });

  it('lists profiles as a table and as JSON, without their secrets', async () => {
    const table = await ops(['profile', 'list']);
    const json = await ops(['profile', 'list', '--json']);

    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(
      /^NAME\s+CLIENT ID\s+TOKEN URL\s+SCOPES\s+AUTH METHOD\s+VERSION\s+LAST ROTATION$/,
    );
    expect(table.stdout).toMatch(new RegExp(`^${LOCAL_PROFILE}\\s+${LOCAL_CLIENT_ID}\\s`, 'm'));
    expect(table.stdout).toMatch(new RegExp(`^${ROTATION_PROFILE}\\s`, 'm'));
    const { profiles } = JSON.parse(json.stdout) as { profiles: Record<string, unknown>[] };
    expect(profiles.map((profile) => profile.name)).toEqual([LOCAL_PROFILE, ROTATION_PROFILE]);
    expect(profiles[0]).toMatchObject({
      clientId: LOCAL_CLIENT_ID,
      tokenUrl: stack.endpoints.tokenUrl,
      scopes: ['stocks'],
      authMethod: 'client_secret_post',
      secretVersion: await currentVersion(LOCAL_PROFILE),
    });
    expect(json.stdout).not.toMatch(/clientSecret|"client_secret"/);
  });

  it('shows one profile, and answers exit code 3 for an unknown one', async () => {
    const shown = await ops(['profile', 'show', LOCAL_PROFILE]);
    const missing = await ops(['profile', 'show', 'nobody']);

    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`Profile ${LOCAL_PROFILE}`);
    expect(shown.stdout).toMatch(/token url\s+http:\/\/127\.0\.0\.1:\d+\/connect\/token/);
    expect(shown.stdout).toMatch(/auth method\s+client_secret_post/);
    expect(shown.stdout).toMatch(/last rotation\s+\d{4}-\d{2}-\d{2}T/);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('no profile nobody');
  });
});

describe('ops profile with private_key_jwt', () => {
  const pemOf = (pair: ReturnType<typeof generateKeyPairSync>) =>
    pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const jwtArguments = (name: string, alg: string) => [
    ...addArguments(name, stack.endpoints.tokenUrl),
    '--auth-method',
    'private_key_jwt',
    '--key-id',
    'k1',
    '--signing-alg',
    alg,
    '--secret-stdin',
  ];

  it('shows the key id and signing algorithm, never the key', async () => {
    const pem = pemOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }));

    const added = await ops(jwtArguments('jwt-shown', 'ES256'), { stdin: `${pem}\n` });
    const shown = await ops(['profile', 'show', 'jwt-shown']);
    const json = await ops(['profile', 'show', 'jwt-shown', '--json']);

    expect(added.code).toBe(0);
    expect(shown.stdout).toMatch(/key id\s+k1$/m);
    expect(shown.stdout).toMatch(/signing alg\s+ES256$/m);
    expect(JSON.parse(json.stdout)).toMatchObject({ keyId: 'k1', signingAlg: 'ES256' });
    expect(shown.stdout + json.stdout).not.toContain('PRIVATE KEY');
  });

  it('refuses a key that cannot sign with the algorithm named, with exit code 2', async () => {
    const pem = pemOf(generateKeyPairSync('ed25519'));

    const added = await ops(jwtArguments('jwt-mismatch', 'RS256'), { stdin: `${pem}\n` });
    const shown = await ops(['profile', 'show', 'jwt-mismatch']);

    expect(added.code).toBe(2);
    expect(added.stderr).toContain('private_key');
    expect(added.stderr).not.toContain('PRIVATE KEY');
    expect(shown.code).toBe(3);
  });
});

describe('ops sync', () => {
  let runId: string;

  it('runs a stock sync through the Lambda Invoke API and prints its summary', async () => {
    const table = await ops(['sync', 'run']);

    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^Stock sync run [0-9a-f-]{36}: succeeded$/m);
    expect(table.stdout).toMatch(/items written\s+999$/m);
    expect(table.stdout).toMatch(/items rejected\s+1$/m);
    runId = /run ([0-9a-f-]{36})/.exec(table.stdout)![1]!;
  });

  it('shows the last runs, newest first, as a table and as JSON', async () => {
    const second = JSON.parse((await ops(['sync', 'run', '--json'])).stdout) as { runId: string };

    const table = await ops(['sync', 'last']);
    const json = JSON.parse((await ops(['sync', 'last', '--limit', '1', '--json'])).stdout) as {
      runs: { runId: string; status: string; written: number }[];
    };

    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^RUN\s+STATUS\s+STARTED\s+ELAPSED/);
    expect(table.stdout.trim().split('\n')).toHaveLength(3);
    expect(table.stdout.split('\n')[2]).toContain(runId.slice(0, 8));
    expect(json.runs).toEqual([
      expect.objectContaining({ runId: second.runId, status: 'succeeded', written: 999 }),
    ]);
  });
});

describe('ops tokens status', () => {
  it('shows each cached key with its profile, scopes, time left and lease, the token only as a hash', async () => {
    const issued = stack.tokenServer.issuedTokens();

    const table = await ops(['tokens', 'status']);
    const json = JSON.parse((await ops(['tokens', 'status', '--json'])).stdout) as {
      keys: Record<string, unknown>[];
    };

    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(
      new RegExp(
        `^${LOCAL_PROFILE}\\s+[0-9a-f]{12}\\s+stocks\\s+valid\\s+[0-9a-f]{12}\\s+3\\dm \\d\\ds\\s+free\\s+-`,
        'm',
      ),
    );
    const key = json.keys.find((entry) => entry.profile === LOCAL_PROFILE)!;
    expect(issued.map(tokenHash)).toContain(key.tokenHash);
    expect(key).toMatchObject({ scopes: 'stocks', token: 'valid', lease: 'free', failures: 0 });
    expect(Object.keys(key)).not.toContain('accessToken');
  });
});

describe('ops profile rotate', () => {
  let cachedHash: string;
  let versionBefore: string | undefined;

  beforeAll(async () => {
    const reply = await stack.invoke('tokenBroker', { client: ROTATION_PROFILE });
    cachedHash = tokenHash((reply.payload as { accessToken: string }).accessToken);
    rotationTokenInMemory = cachedHash;
    versionBefore = await currentVersion(ROTATION_PROFILE);
  });

  it('changes nothing when the token server refuses the new secret, exit code 1', async () => {
    snapshots.length = 0;

    const run = await ops(['profile', 'rotate', ROTATION_PROFILE, '--secret-stdin'], {
      stdin: `${WRONG_SECRET}\n`,
    });

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('(invalid_client)');
    expect(run.stderr).toContain('nothing was changed');
    expect(snapshots).toHaveLength(1);
    expect(await currentVersion(ROTATION_PROFILE)).toBe(versionBefore);
    expect(await cachedTokenHash(ROTATION_PROFILE)).toBe(cachedHash);
  });

  it('puts the new version and purges the cache only after the new secret obtained a token', async () => {
    snapshots.length = 0;

    const run = await ops(['profile', 'rotate', ROTATION_PROFILE, '--secret-stdin', '--json'], {
      stdin: `${stack.clientSecret}\n`,
    });

    expect(run.code).toBe(0);
    // While the new secret's token request was at the token server, the old
    // version was still current and the old token still cached.
    expect(snapshots).toEqual([{ cachedTokenHash: cachedHash, secretVersion: versionBefore }]);
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    const versionAfter = await currentVersion(ROTATION_PROFILE);
    expect(result).toMatchObject({
      profile: ROTATION_PROFILE,
      previousVersion: versionBefore,
      newVersion: versionAfter,
      purgedTokens: 1,
      purgedTokenHashes: [cachedHash],
    });
    expect(versionAfter).not.toBe(versionBefore);
    expect(await cachedTokenHash(ROTATION_PROFILE)).toBeUndefined();
    expect(await cachedTokenHash(LOCAL_PROFILE)).toBeDefined();
  });

  it('prints the rotation steps as text', async () => {
    const run = await ops(['profile', 'rotate', ROTATION_PROFILE, '--secret-stdin'], {
      stdin: stack.clientSecret,
    });

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Rotated profile ops-rotation$/m);
    expect(run.stdout).toMatch(
      /new secret\s+accepted by the token server \(token [0-9a-f]{12}, scope stocks\)/,
    );
    expect(run.stdout).toMatch(/secret version\s+\S+ -> \S+ \(AWSCURRENT\)/);
    expect(run.stdout).toMatch(/cached tokens\s+0 removed/);
  });

  it('answers exit code 3 for an unknown profile, before asking for a secret', async () => {
    const run = await ops(['profile', 'rotate', 'nobody', '--secret-stdin'], { stdin: 'x' });

    expect(run.code).toBe(3);
  });
});

describe('ops tokens purge', () => {
  it("removes a profile's cached tokens and leaves the others", async () => {
    // The warm broker still serves the purged token from memory; reporting it
    // as refused, as a caller would after a 401, makes it fetch and cache a new one.
    await stack.invoke('tokenBroker', {
      client: ROTATION_PROFILE,
      rejectedTokenHash: rotationTokenInMemory,
    });
    const hash = await cachedTokenHash(LOCAL_PROFILE);

    const run = await ops(['tokens', 'purge', LOCAL_PROFILE]);

    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`Removed 1 cached token(s) of ${LOCAL_PROFILE}: ${hash}\n`);
    expect(await cachedTokenHash(LOCAL_PROFILE)).toBeUndefined();
    expect(await cachedTokenHash(ROTATION_PROFILE)).toBeDefined();
    const status = await ops(['tokens', 'status', '--profile', LOCAL_PROFILE]);
    expect(status.stdout).toMatch(
      new RegExp(`^${LOCAL_PROFILE}\\s+[0-9a-f]{12}\\s+stocks\\s+none\\s+-`, 'm'),
    );
  });

  it('answers 0 with nothing to purge, and 3 for a name that is neither profile nor cached', async () => {
    const again = await ops(['tokens', 'purge', LOCAL_PROFILE, '--json']);
    const unknown = await ops(['tokens', 'purge', 'nobody']);

    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({
      profile: LOCAL_PROFILE,
      purged: 0,
      tokenHashes: [],
    });
    expect(unknown.code).toBe(3);
  });
});

describe('ops --local', () => {
  it("targets the stack described by `npm run -s stack`'s JSON line, without endpoint variables", async () => {
    const file = path.join(scratchDir, 'stack.json');
    await writeFile(
      file,
      `${JSON.stringify({
        region: LOCAL_REGION,
        endpoints: stack.endpoints,
        tables: stack.tables,
        secretPrefix: DEFAULT_SECRET_PREFIX,
      })}\n`,
    );

    const run = await ops(['--local', file, 'profile', 'list', '--json'], { endpoints: false });

    expect(run.code).toBe(0);
    const { profiles } = JSON.parse(run.stdout) as { profiles: { name: string }[] };
    expect(profiles.map((profile) => profile.name)).toContain(LOCAL_PROFILE);
  });
});

describe('secrets and tokens', () => {
  it('never appear in anything the CLI printed', () => {
    const printed = outputs.join('\n');

    expect(outputs.length).toBeGreaterThan(20);
    for (const secret of [stack.clientSecret, WRONG_SECRET, ...stack.tokenServer.issuedTokens()]) {
      expect(printed).not.toContain(secret);
    }
  });
});

// --- Helpers -------------------------------------------------------------------

function addArguments(name: string, tokenUrl: string): string[] {
  return [
    'profile',
    'add',
    name,
    '--client-id',
    LOCAL_CLIENT_ID,
    '--token-url',
    tokenUrl,
    '--scopes',
    'stocks',
  ];
}

/**
 * Runs the CLI as a child process. Its environment holds only what an
 * operator's would for the local stack: endpoint variables (unless
 * `endpoints: false`) with `--stage local`, dummy credentials, a region, no AWS profile and no
 * instance metadata lookup; `AWS_ENDPOINT_URL` points anything else at a
 * closed loopback port.
 */
function ops(
  args: string[],
  options: { stdin?: string; endpoints?: boolean } = {},
): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: scratchDir ?? tmpdir(),
    AWS_ACCESS_KEY_ID: 'local-test-key',
    AWS_SECRET_ACCESS_KEY: 'local-test-secret',
    AWS_REGION: LOCAL_REGION,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: devNull,
    AWS_SHARED_CREDENTIALS_FILE: devNull,
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  if (options.endpoints !== false && stack) {
    env.AWS_ENDPOINT_URL_DYNAMODB = stack.endpoints.dynamodb;
    env.AWS_ENDPOINT_URL_SECRETS_MANAGER = stack.endpoints.secretsManager;
    env.AWS_ENDPOINT_URL_LAMBDA = stack.endpoints.lambda;
  }
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [
        '--import',
        'tsx',
        'ops/cli.ts',
        ...(options.endpoints === false ? [] : ['--stage', 'local']),
        ...args,
      ],
      { cwd: REPOSITORY_ROOT, env, timeout: CLI_TIMEOUT_MS },
      (error, stdout, stderr) => {
        outputs.push(stdout, stderr);
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(options.stdin ?? '');
  });
}

async function forwardTokenRequest(
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
) {
  snapshots.push({
    cachedTokenHash: await cachedTokenHash(ROTATION_PROFILE),
    secretVersion: await currentVersion(ROTATION_PROFILE),
  });
  const forwarded: Record<string, string> = {};
  for (const name of ['content-type', 'authorization', 'accept']) {
    const value = headers[name];
    if (typeof value === 'string') forwarded[name] = value;
  }
  const reply = await fetch(stack.endpoints.tokenUrl, { method: 'POST', headers: forwarded, body });
  return {
    status: reply.status,
    contentType: reply.headers.get('content-type') ?? 'application/json',
    body: await reply.text(),
  };
}

async function secretString(profile: string): Promise<string> {
  const reply = await stack.clients.secrets.send(
    new GetSecretValueCommand({ SecretId: `${DEFAULT_SECRET_PREFIX}${profile}` }),
  );
  return reply.SecretString ?? '';
}

async function currentVersion(profile: string): Promise<string | undefined> {
  try {
    const reply = await stack.clients.secrets.send(
      new GetSecretValueCommand({ SecretId: `${DEFAULT_SECRET_PREFIX}${profile}` }),
    );
    return reply.VersionId;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

async function cachedTokenHash(profile: string): Promise<string | undefined> {
  const reply = await stack.clients.dynamo.send(
    new ScanCommand({
      TableName: stack.tables.tokens,
      ConsistentRead: true,
      FilterExpression: '#profile = :profile AND attribute_exists(tokenHash)',
      ExpressionAttributeNames: { '#profile': 'profile' },
      ExpressionAttributeValues: { ':profile': { S: profile } },
    }),
  );
  return reply.Items?.[0]?.tokenHash?.S;
}
