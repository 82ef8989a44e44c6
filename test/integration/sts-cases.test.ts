/**
 * The project's catalogue of misbehaving token servers and AWS services,
 * replayed against the real code: token replies over real HTTP through the
 * real `fetch` into a real `TokenEndpointClient`; caching through the real
 * `TokenTable` on dynalite; secrets through the real `ClientProfileStore` and
 * `SecretsManagerClient` against the local stand-in. Time is frozen: `sleep`
 * records its waits and advances the clock instead of waiting.
 */
import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { startDynamoDb, type LocalDynamoDb } from '../../local/dynamodb.js';
import { startSecretsManager, type LocalSecretsManager } from '../../local/secrets-manager.js';
import { tableNames } from '../../local/tables.js';
import { TokenBroker } from '../../shared/broker.js';
import { tokenCacheKey } from '../../shared/cache-key.js';
import type { AuthMethod, ClientProfile } from '../../shared/client-profile.js';
import { ClientProfileStore } from '../../shared/client-profile-store.js';
import { BrokerError } from '../../shared/errors.js';
import { tokenHash } from '../../shared/redact.js';
import { formEncode } from '../../shared/client-auth.js';
import { TokenEndpointClient } from '../../shared/token-endpoint.js';
import type { TokenGrant } from '../../shared/token-grant.js';
import { TokenTable } from '../../shared/token-table.js';
import {
  drivenCases,
  fillExchange,
  fillPlaceholders,
  REPLAY_START_MS,
  runValues,
  secretForms,
  tokenEndpointCases,
  type CaseGroup,
  type RunValues,
  type TokenEndpointCase,
} from '../fixtures/sts-cases.js';
import { LogRecorder } from '../helpers/log-recorder.js';
import {
  startReplayServer,
  type ReplayExchange,
  type ReplayServer,
} from '../helpers/replay-server.js';

const TOKEN_PATH = '/connect/token';
const DEFAULT_SCOPES = ['stocks:read'];
const START_SECS = Math.floor(REPLAY_START_MS / 1000);
const SECRET_PREFIX = 'token-broker/clients/';
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const REGION = 'eu-west-1';
/** Broker sleeps wait this many times less in real time than they claim. */
const REAL_TIME_DIVISOR = 20;
/** Where a token served without a token request may come from. */
const CACHED_SOURCES = ['broker_memory', 'cache'];

/** Servers started by a test, stopped after it whatever happened. */
const started: ReplayServer[] = [];

async function replay(script: ReplayExchange[]): Promise<ReplayServer> {
  const server = await startReplayServer(script);
  started.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.stop()));
});

/** A clock frozen at the replay start that only `sleep` moves. */
function frozenTime() {
  const time = { nowMs: REPLAY_START_MS, waitsMs: [] as number[] };
  return {
    time,
    clock: () => time.nowMs,
    sleep: async (ms: number) => {
      time.waitsMs.push(ms);
      time.nowMs += ms;
    },
  };
}

function profileFor(
  values: RunValues,
  server: ReplayServer,
  authMethod: AuthMethod = 'client_secret_post',
): ClientProfile {
  return {
    clientId: values.clientId,
    clientSecret: values.clientSecret,
    tokenUrl: `${server.url}${TOKEN_PATH}`,
    scopes: DEFAULT_SCOPES,
    authMethod,
  };
}

/** Runs one fixture against a fresh replay server and a fresh client. */
async function runCase(fixture: TokenEndpointCase) {
  const values = runValues();
  const server = await replay(fixture.exchanges.map((exchange) => fillExchange(exchange, values)));
  const { time, clock, sleep } = frozenTime();
  const log = new LogRecorder();
  const random = fixture.options?.random ?? 1;
  const client = new TokenEndpointClient({
    clock,
    sleep,
    random: () => random,
    log,
    ...(fixture.options?.defaultLifetimeSecs
      ? { defaultLifetimeSecs: fixture.options.defaultLifetimeSecs }
      : {}),
    ...(fixture.options?.requestTimeoutMs
      ? { requestTimeoutMs: fixture.options.requestTimeoutMs }
      : {}),
  });
  const profile = profileFor(values, server, fixture.authMethod);

  const outcome = await client.requestToken(profile, fixture.scopes ?? DEFAULT_SCOPES).then(
    (grant) => ({ grant, error: undefined }),
    (error: unknown) => ({ grant: undefined, error }),
  );
  return { values, server, time, log, outcome, profile };
}

/** Asserts that no form of the secret is in any of the texts. */
function expectSecretAbsent(values: RunValues, texts: Record<string, string>): void {
  for (const [formName, form] of Object.entries(secretForms(values))) {
    for (const [where, text] of Object.entries(texts)) {
      expect(text.includes(form), `${formName} secret found in ${where}`).toBe(false);
    }
  }
}

function errorTexts(error: unknown): Record<string, string> {
  if (!(error instanceof Error)) return {};
  const broker = error instanceof BrokerError ? JSON.stringify(error.toReply()) : '';
  return {
    'error message': error.message,
    'error JSON': `${JSON.stringify(error)} ${broker}`,
    'error cause': String(error.cause ?? ''),
  };
}

function expectGrant(grant: TokenGrant | undefined, fixture: TokenEndpointCase, values: RunValues) {
  if (!('token' in fixture.expected)) throw new Error('fixture expects an error');
  const expected = fixture.expected.token;
  const sentAtMs = REPLAY_START_MS + fixture.waitsMs.reduce((sum, ms) => sum + ms, 0);

  expect(grant).toEqual({
    accessToken: fillPlaceholders(expected.accessToken, values),
    tokenType: 'Bearer',
    lifetimeSecs: expected.lifetimeSecs,
    expiresAt: (sentAtMs + expected.lifetimeSecs * 1000) / 1000,
    scope: expected.scope,
  });
}

function expectError(error: unknown, fixture: TokenEndpointCase) {
  if (!('error' in fixture.expected)) throw new Error('fixture expects a token');
  const expected = fixture.expected.error;

  expect(error).toBeInstanceOf(BrokerError);
  const brokerError = error as BrokerError;
  expect({ code: brokerError.code, retryable: brokerError.retryable }).toEqual({
    code: expected.code,
    retryable: expected.retryable,
  });
  if (expected.messageIncludes) expect(brokerError.message).toContain(expected.messageIncludes);
}

const GROUP_TITLES: Record<CaseGroup, string> = {
  'token replies': 'Token replies that are not textbook (RFC 6749 §5.1)',
  'error replies': 'Error replies (RFC 6749 §5.2)',
  'rate limits and faults': 'Rate limits, faults and broken transports',
  'client authentication': 'Client authentication (RFC 6749 §2.3.1)',
};

for (const [group, title] of Object.entries(GROUP_TITLES) as [CaseGroup, string][]) {
  describe(title, () => {
    const cases = tokenEndpointCases.filter((fixture) => fixture.group === group);

    it.each(cases.map((fixture) => [`${fixture.id}: ${fixture.title}`, fixture] as const))(
      'case %s',
      async (_name, fixture) => {
        const { values, server, time, log, outcome } = await runCase(fixture);

        if ('token' in fixture.expected) {
          expect(outcome.error).toBeUndefined();
          expectGrant(outcome.grant, fixture, values);
        } else {
          expectError(outcome.error, fixture);
        }
        expect(server.requests).toHaveLength(fixture.requests);
        expect(server.unexpected).toEqual([]);
        expect(server.remaining()).toBe(0);
        expect(time.waitsMs).toEqual(fixture.waitsMs);

        expectSecretAbsent(values, { ...errorTexts(outcome.error), log: log.text() });
        expect(log.text()).not.toContain(values.accessToken);
        for (const text of fixture.unlogged ?? []) {
          expect(log.text()).not.toContain(fillPlaceholders(text, values));
        }
      },
    );
  });
}

function caseById(id: string): TokenEndpointCase {
  const fixture = tokenEndpointCases.find((candidate) => candidate.id === id);
  if (!fixture) throw new Error(`no fixture ${id}`);
  return fixture;
}

describe('Replay server', () => {
  it('records each request and refuses one beyond its script with 500 and a failure record', async () => {
    const server = await replay([{ status: 204 }]);

    const first = await fetch(`${server.url}/a`, { method: 'POST', body: 'x=1' });
    const second = await fetch(`${server.url}/b`, { method: 'POST', body: 'y=2' });

    expect([first.status, second.status]).toEqual([204, 500]);
    expect(server.requests.map((r) => [r.method, r.path, r.rawBody])).toEqual([
      ['POST', '/a', 'x=1'],
      ['POST', '/b', 'y=2'],
    ]);
    expect(server.unexpected).toHaveLength(1);
    expect(server.unexpected[0]).toContain('beyond the script');
  });
});

describe('Request shape', () => {
  it('12: posts a form-encoded body, never JSON, with only the grant fields', async () => {
    const { values, server } = await runCase(caseById('12'));

    const [request] = server.requests;
    expect(request).toMatchObject({ method: 'POST', path: TOKEN_PATH });
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request!.headers.accept).toBe('application/json');
    expect(() => JSON.parse(request!.rawBody)).toThrow();
    const form = new URLSearchParams(request!.rawBody);
    expect(Object.fromEntries(form)).toEqual({
      grant_type: 'client_credentials',
      scope: 'stocks:read',
      client_id: values.clientId,
      client_secret: values.clientSecret,
    });
  });

  it('15: sends client_secret_basic form-encoded before base64, and nowhere else', async () => {
    const { values, server } = await runCase(caseById('15'));

    const [request] = server.requests;
    const encoded = request!.headers.authorization!.replace(/^Basic /, '');
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    expect(decoded).toBe(`${formEncode(values.clientId)}:${formEncode(values.clientSecret)}`);
    // The secret's own ':' is encoded, so the first ':' separates id from secret.
    const [id, secret] = decoded
      .split(':')
      .map((part) => decodeURIComponent(part.replace(/\+/g, ' ')));
    expect([id, secret]).toEqual([values.clientId, values.clientSecret]);
    for (const special of ['+', '/', ':', '%', '=', ' ']) {
      expect(values.clientSecret).toContain(special);
    }

    const form = new URLSearchParams(request!.rawBody);
    expect(form.has('client_id')).toBe(false);
    expect(form.has('client_secret')).toBe(false);
    expect(request!.rawBody).not.toContain(formEncode(values.clientSecret));
  });

  it('15b: sends client_secret_post as form fields, without an Authorization header', async () => {
    const { values, server } = await runCase(caseById('15b'));

    const [request] = server.requests;
    expect(request!.headers.authorization).toBeUndefined();
    const form = new URLSearchParams(request!.rawBody);
    expect(form.get('client_id')).toBe(values.clientId);
    expect(form.get('client_secret')).toBe(values.clientSecret);
  });

  it('8: logs the status and a short redacted prefix of a proxy page, not the page', async () => {
    const { log } = await runCase(caseById('8'));

    const warnings = log.entries.filter((entry) => entry.level === 'warn');
    expect(warnings).toHaveLength(3);
    expect(warnings[0]!.fields[0]).toMatchObject({ status: 502, attempt: 1, willRetry: true });
    const reason = (warnings[0]!.fields[0] as { reason: string }).reason;
    expect(reason.length).toBeLessThan(150);
    expect(log.text()).not.toContain('<!--');
  });
});

// ---- Cases 16-20: the shared cache and Secrets Manager ----

let dynamo: LocalDynamoDb;
let dynamoClient: DynamoDBClient;
let secretsManager: LocalSecretsManager;
let secretsClient: SecretsManagerClient;
const TOKENS_TABLE = tableNames('sts-cases').tokens;
let profileCounter = 0;

beforeAll(async () => {
  [dynamo, secretsManager] = await Promise.all([
    startDynamoDb({ stage: 'sts-cases' }),
    startSecretsManager({ region: REGION }),
  ]);
  dynamoClient = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  // One attempt: the store, not the SDK, decides what a throttle means.
  secretsClient = new SecretsManagerClient({
    endpoint: secretsManager.endpoint,
    region: REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
});

afterAll(async () => {
  dynamoClient?.destroy();
  secretsClient?.destroy();
  await Promise.all([dynamo?.stop(), secretsManager?.stop()]);
});

function profileDocument(values: RunValues, tokenUrl: string, scopes = DEFAULT_SCOPES) {
  return JSON.stringify({
    client_id: values.clientId,
    client_secret: values.clientSecret,
    token_url: tokenUrl,
    scopes,
  });
}

function tokenExchange(accessToken: string, expiresIn = 3600, scope?: string): ReplayExchange {
  return {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: expiresIn,
      ...(scope ? { scope } : {}),
    }),
  };
}

function refusal(status: number, code: string): ReplayExchange {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ error: code }),
  };
}

/**
 * Brokers wired to real parts: the replay server as token endpoint, the
 * stand-in's secret under a profile name unique to the test, dynalite's
 * token table. Each `environment()` is one Lambda environment: its own
 * broker, profile cache and clock. Its `sleep` advances that clock and yields
 * a little real time, so other environments make progress while it polls.
 * `roundTripMs` moves the clock while a token request is out.
 */
async function brokerHarness(
  script: ReplayExchange[],
  options: { roundTripMs?: number; scopes?: string[] } = {},
) {
  const values = runValues();
  const server = await replay(script);
  const tokenUrl = `${server.url}${TOKEN_PATH}`;
  const profileName = `sts-case-${(profileCounter += 1)}`;
  const secretName = `${SECRET_PREFIX}${profileName}`;
  await secretsClient.send(
    new CreateSecretCommand({
      Name: secretName,
      SecretString: profileDocument(values, tokenUrl, options.scopes),
    }),
  );
  const log = new LogRecorder();

  function environment() {
    const time = { nowMs: REPLAY_START_MS, waitsMs: [] as number[] };
    const clock = () => time.nowMs;
    const sleep = async (ms: number) => {
      time.waitsMs.push(ms);
      time.nowMs += ms;
      await new Promise((resolve) => setTimeout(resolve, Math.ceil(ms / REAL_TIME_DIVISOR)));
    };
    const timedFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      time.nowMs += options.roundTripMs ?? 0;
      return response;
    };
    const profiles = new ClientProfileStore(secretsClient, { prefix: SECRET_PREFIX, clock, log });
    const broker = new TokenBroker({
      profiles,
      tokenEndpoint: new TokenEndpointClient({
        fetch: timedFetch,
        clock,
        sleep,
        random: () => 1,
        log,
      }),
      tokens: new TokenTable(dynamoClient, TOKENS_TABLE),
      log,
      clock,
      sleep,
      random: () => 1,
    });
    return { broker, profiles, time };
  }

  const rotate = async (clientSecret: string) =>
    secretsClient.send(
      new PutSecretValueCommand({
        SecretId: secretName,
        SecretString: profileDocument({ ...values, clientSecret }, tokenUrl, options.scopes),
      }),
    );
  const cacheKey = (scopes = options.scopes ?? DEFAULT_SCOPES) =>
    tokenCacheKey({ tokenUrl, clientId: values.clientId }, scopes);
  const readItem = async (scopes?: string[]) =>
    (
      await dynamoClient.send(
        new GetItemCommand({
          TableName: TOKENS_TABLE,
          Key: { cacheKey: { S: cacheKey(scopes) } },
          ConsistentRead: true,
        }),
      )
    ).Item;
  const writeItem = async (accessToken: string, expiresAt: number, lifetimeSecs: number) =>
    dynamoClient.send(
      new PutItemCommand({
        TableName: TOKENS_TABLE,
        Item: rawItem(cacheKey(), accessToken, expiresAt, lifetimeSecs),
      }),
    );

  return {
    ...environment(),
    environment,
    profileName,
    secretName,
    server,
    values,
    log,
    rotate,
    readItem,
    writeItem,
  };
}

function rawItem(
  cacheKey: string,
  accessToken: string,
  expiresAt: number,
  lifetimeSecs: number,
): Record<string, AttributeValue> {
  return {
    cacheKey: { S: cacheKey },
    accessToken: { S: accessToken },
    tokenType: { S: 'Bearer' },
    tokenHash: { S: tokenHash(accessToken) },
    issuedAt: { N: String(expiresAt - lifetimeSecs) },
    lifetimeSecs: { N: String(lifetimeSecs) },
    expiresAt: { N: String(expiresAt) },
    ttl: { N: String(expiresAt) },
    scope: { S: DEFAULT_SCOPES.join(' ') },
    // As TokenTable writes it: every token write bumps the fencing version.
    version: { N: '1' },
  };
}

async function rejection(promise: Promise<unknown>): Promise<BrokerError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BrokerError);
  return error as BrokerError;
}

function formOf(server: ReplayServer, index: number): URLSearchParams {
  return new URLSearchParams(server.requests[index]!.rawBody);
}

describe('Caching (cases 7, 8, 14, 16-18)', () => {
  it(`16: ${drivenCases['16']!.title}`, async () => {
    const h = await brokerHarness([tokenExchange('fake-at-16')], { roundTripMs: 5000 });

    const first = await h.broker.getToken({ client: h.profileName });

    expect(first).toMatchObject({ expiresAt: START_SECS + 3600, source: 'token_endpoint' });
    const item = await h.readItem();
    expect(item?.expiresAt?.N).toBe(String(START_SECS + 3600));
    expect(item?.ttl?.N).toBe(String(START_SECS + 3600));
    expect(item?.issuedAt?.N).toBe(String(START_SECS));

    // Another environment, 1000 s later, reads the stored expiry back as absolute.
    const other = h.environment();
    other.time.nowMs = REPLAY_START_MS + 1000 * 1000;
    const second = await other.broker.getToken({ client: h.profileName });

    expect(second).toMatchObject({ accessToken: 'fake-at-16', source: 'cache' });
    expect(h.server.requests).toHaveLength(1);
  });

  it('7: keys the cache on requested scopes, sorted and deduplicated, and stores the granted scope', async () => {
    const h = await brokerHarness([tokenExchange('fake-at-7', 3600, 'read:a')]);

    const first = await h.broker.getToken({ client: h.profileName, scopes: ['write:b', 'read:a'] });
    const second = await h.environment().broker.getToken({
      client: h.profileName,
      scopes: ['read:a', 'write:b', 'read:a'],
    });

    expect(first).toMatchObject({ scope: 'read:a', source: 'token_endpoint' });
    expect(second).toMatchObject({ accessToken: 'fake-at-7', scope: 'read:a', source: 'cache' });
    expect(formOf(h.server, 0).get('scope')).toBe('read:a write:b');
    expect(h.server.requests).toHaveLength(1);
    const item = await h.readItem(['read:a', 'write:b']);
    expect(item?.scope?.S).toBe('read:a');
    expect(item?.requestedScope?.S).toBe('read:a write:b');
  });

  it('8: keeps serving a valid cached token while the token endpoint is behind a failing proxy', async () => {
    const page = {
      status: 502,
      headers: { 'content-type': 'text/html' },
      body: '<html>502</html>',
    };
    const h = await brokerHarness([page, page, page]);
    await h.writeItem('fake-at-8', START_SECS + 3600, 3600);

    const cached = await h.broker.getToken({ client: h.profileName });
    const other = await rejection(h.broker.getToken({ client: h.profileName, scopes: ['other'] }));
    const again = await h.broker.getToken({ client: h.profileName });

    expect(cached).toMatchObject({ accessToken: 'fake-at-8', source: 'cache' });
    expect(other).toMatchObject({ code: 'token_endpoint_unavailable', retryable: true });
    expect(again.accessToken).toBe('fake-at-8');
    expect(CACHED_SOURCES).toContain(again.source);
  });

  it('14: never evicts a still-valid token when a foreground refresh fails', async () => {
    const h = await brokerHarness([
      { status: 500, body: 'oops' },
      { status: 500, body: 'oops' },
      refusal(429, 'temporarily_unavailable'),
    ]);
    // Valid for 30 s more: inside the 60 s expiry buffer, so it is not served.
    await h.writeItem('fake-at-14', START_SECS + 30, 3600);

    const error = await rejection(h.broker.getToken({ client: h.profileName }));

    expect(error).toMatchObject({ code: 'token_endpoint_unavailable', retryable: true });
    expect(h.server.requests).toHaveLength(3);
    const item = await h.readItem();
    expect(item?.tokenHash?.S).toBe(tokenHash('fake-at-14'));
    expect(item?.expiresAt?.N).toBe(String(START_SECS + 30));
  });

  it('14: keeps serving and keeps storing the current token when a refresh ahead fails', async () => {
    const h = await brokerHarness([
      { status: 500, body: 'oops' },
      { status: 500, body: 'oops' },
      { status: 500, body: 'oops' },
    ]);
    // 200 s left of 3600: renewal is due from 240 s before expiry (60 s buffer + 180 s ahead).
    await h.writeItem('fake-at-14b', START_SECS + 200, 3600);

    const reply = await h.broker.getToken({ client: h.profileName });
    await h.broker.settled();
    const again = await h.broker.getToken({ client: h.profileName });

    expect(reply).toMatchObject({ accessToken: 'fake-at-14b', source: 'cache' });
    expect(again.accessToken).toBe('fake-at-14b');
    expect(h.server.requests.length).toBeGreaterThanOrEqual(1);
    expect((await h.readItem())?.tokenHash?.S).toBe(tokenHash('fake-at-14b'));
    expect(h.log.messages('warn')).toContain('refresh ahead failed, current token kept');
  });

  it(`17: ${drivenCases['17']!.title} send one token request between them`, async () => {
    const environments = 3;
    const callersEach = 3;
    const h = await brokerHarness(
      Array.from({ length: environments * callersEach }, (_, i) =>
        tokenExchange(`fake-at-17-${i}`),
      ),
    );
    const fleet = [h, ...Array.from({ length: environments - 1 }, () => h.environment())];

    const replies = await Promise.all(
      fleet.flatMap((env) =>
        Array.from({ length: callersEach }, () => env.broker.getToken({ client: h.profileName })),
      ),
    );

    expect(h.server.requests).toHaveLength(1);
    expect(new Set(replies.map((reply) => reply.accessToken))).toEqual(new Set(['fake-at-17-0']));
    expect(h.server.unexpected).toEqual([]);
  });

  it('18: never serves an item that is still present days after its expiry', async () => {
    const h = await brokerHarness([tokenExchange('fake-at-18-new')]);
    await h.writeItem('fake-at-18-old', START_SECS - 3 * 86_400, 3600);

    const reply = await h.broker.getToken({ client: h.profileName });

    expect(reply).toMatchObject({ accessToken: 'fake-at-18-new', source: 'token_endpoint' });
    expect((await h.readItem())?.accessToken?.S).toBe('fake-at-18-new');
  });

  it('18b: never serves an item inside its expiry buffer', async () => {
    const h = await brokerHarness([tokenExchange('fake-at-18b-new')]);
    await h.writeItem('fake-at-18b-old', START_SECS + 59, 3600);

    const reply = await h.broker.getToken({ client: h.profileName });

    expect(reply).toMatchObject({ accessToken: 'fake-at-18b-new', source: 'token_endpoint' });
  });

  it('18c: serves an item whose expiry is well ahead of the clock without a token request', async () => {
    const h = await brokerHarness([]);
    await h.writeItem('fake-at-18c', START_SECS + 3000, 3600);

    const reply = await h.broker.getToken({ client: h.profileName });

    expect(reply).toMatchObject({ accessToken: 'fake-at-18c', source: 'cache' });
    expect(h.server.requests).toHaveLength(0);
  });
});

describe('Secret rotation (case 19)', () => {
  it('19: rereads AWSCURRENT once past the cache and retries with the rotated secret', async () => {
    const h = await brokerHarness([refusal(400, 'invalid_client'), tokenExchange('fake-at-19')]);
    await h.profiles.get(h.profileName);
    const rotatedSecret = `${h.values.clientSecret}-rotated`;
    await h.rotate(rotatedSecret);
    const readsBefore = secretsManager.stats().calls.GetSecretValue ?? 0;

    const reply = await h.broker.getToken({ client: h.profileName });

    expect(reply).toMatchObject({ accessToken: 'fake-at-19', source: 'token_endpoint' });
    expect((secretsManager.stats().calls.GetSecretValue ?? 0) - readsBefore).toBe(1);
    expect(formOf(h.server, 0).get('client_secret')).toBe(h.values.clientSecret);
    expect(formOf(h.server, 1).get('client_secret')).toBe(rotatedSecret);
    expect(h.log.messages('info')).toContain('client secret changed, retrying once');
    expectSecretAbsent(h.values, { log: h.log.text() });
  });

  it('19b: reports invalid_client without a retry when the version did not change', async () => {
    const h = await brokerHarness([refusal(401, 'invalid_client')]);
    await h.profiles.get(h.profileName);
    const readsBefore = secretsManager.stats().calls.GetSecretValue ?? 0;

    const error = await rejection(h.broker.getToken({ client: h.profileName }));

    expect(error).toMatchObject({ code: 'invalid_client', retryable: false });
    expect((secretsManager.stats().calls.GetSecretValue ?? 0) - readsBefore).toBe(1);
    expect(h.server.requests).toHaveLength(1);
    expectSecretAbsent(h.values, { ...errorTexts(error), log: h.log.text() });
  });

  it('19c: retries only once when the rotated secret is refused too', async () => {
    const h = await brokerHarness([
      refusal(400, 'unauthorized_client'),
      refusal(400, 'invalid_client'),
    ]);
    await h.profiles.get(h.profileName);
    await h.rotate(`${h.values.clientSecret}-rotated`);
    const readsBefore = secretsManager.stats().calls.GetSecretValue ?? 0;

    const error = await rejection(h.broker.getToken({ client: h.profileName }));

    expect(error.code).toBe('invalid_client');
    expect(h.server.requests).toHaveLength(2);
    expect((secretsManager.stats().calls.GetSecretValue ?? 0) - readsBefore).toBe(1);
    expect(h.server.unexpected).toEqual([]);
  });

  it('19d: keeps the refusal when the reread is throttled, serving no stale retry', async () => {
    const h = await brokerHarness([refusal(400, 'invalid_client')]);
    await h.profiles.get(h.profileName);
    secretsManager.failNext('GetSecretValue', 'ThrottlingException');

    const error = await rejection(h.broker.getToken({ client: h.profileName }));

    expect(error.code).toBe('invalid_client');
    expect(h.server.requests).toHaveLength(1);
    expect(h.log.messages('warn')).toContain('serving last good client profile');
  });

  it('19e: does not reread the secret after a refusal that is not about credentials', async () => {
    const h = await brokerHarness([refusal(400, 'invalid_scope')]);
    await h.profiles.get(h.profileName);
    const readsBefore = secretsManager.stats().calls.GetSecretValue ?? 0;

    const error = await rejection(h.broker.getToken({ client: h.profileName }));

    expect(error.code).toBe('invalid_scope');
    expect((secretsManager.stats().calls.GetSecretValue ?? 0) - readsBefore).toBe(0);
  });
});

describe('Secrets Manager errors (case 20)', () => {
  async function storeHarness() {
    const values = runValues();
    const profileName = `sts-case-${(profileCounter += 1)}`;
    const secretName = `${SECRET_PREFIX}${profileName}`;
    await secretsClient.send(
      new CreateSecretCommand({
        Name: secretName,
        SecretString: profileDocument(values, 'https://sts.example.test/connect/token'),
      }),
    );
    const { time, clock } = frozenTime();
    const log = new LogRecorder();
    const store = new ClientProfileStore(secretsClient, {
      prefix: SECRET_PREFIX,
      ttlSecs: 300,
      clock,
      log,
    });
    return { values, profileName, secretName, store, time, log };
  }

  it('20: ThrottlingException keeps serving the last good secret once the cache has aged', async () => {
    const h = await storeHarness();
    const first = await h.store.get(h.profileName);
    h.time.nowMs += 301_000;
    secretsManager.failNext('GetSecretValue', 'ThrottlingException');

    const second = await h.store.get(h.profileName);

    expect(second.versionId).toBe(first.versionId);
    expect(second.profile.clientSecret).toBe(h.values.clientSecret);
    expect(h.log.messages('warn')).toContain('serving last good client profile');
    expectSecretAbsent(h.values, { log: h.log.text() });
  });

  it('20b: ThrottlingException with nothing cached is a retryable failure naming the secret', async () => {
    const h = await storeHarness();
    secretsManager.failNext('GetSecretValue', 'ThrottlingException');

    const error = await rejection(h.store.get(h.profileName));

    expect(error).toMatchObject({ code: 'secret_unavailable', retryable: true });
    expect(error.message).toContain(h.secretName);
    expect(error.message).toContain('ThrottlingException');
  });

  it.each(['AccessDeniedException', 'DecryptionFailure'] as const)(
    '20: %s is permanent, names the secret and never its value, even with a cached copy',
    async (errorType) => {
      const h = await storeHarness();
      await h.store.get(h.profileName);
      h.time.nowMs += 301_000;
      secretsManager.failNext('GetSecretValue', errorType);

      const error = await rejection(h.store.get(h.profileName));

      expect(error).toMatchObject({ code: 'secret_unavailable', retryable: false });
      expect(error.message).toContain(h.secretName);
      expect(error.message).toContain(errorType);
      expect((error.cause as Error).name).toBe(errorType);
      expectSecretAbsent(h.values, { ...errorTexts(error), log: h.log.text() });
    },
  );

  it('20: ResourceNotFoundException is an unknown client naming the secret', async () => {
    const h = await storeHarness();
    secretsManager.failNext('GetSecretValue', 'ResourceNotFoundException');

    const error = await rejection(h.store.get(h.profileName));

    expect(error).toMatchObject({ code: 'unknown_client', retryable: false });
    expect(error.message).toContain(h.secretName);
    expectSecretAbsent(h.values, { ...errorTexts(error), log: h.log.text() });
  });

  it('20c: a secret that does not exist at all is an unknown client', async () => {
    const h = await storeHarness();

    const error = await rejection(h.store.get('sts-case-never-created'));

    expect(error).toMatchObject({ code: 'unknown_client', retryable: false });
    expect(error.message).toContain(`${SECRET_PREFIX}sts-case-never-created`);
  });

  it('20d: InternalServiceError (HTTP 500) is transient', async () => {
    const h = await storeHarness();
    secretsManager.failNext('GetSecretValue', 'InternalServiceError');

    const error = await rejection(h.store.get(h.profileName));

    expect(error).toMatchObject({ code: 'secret_unavailable', retryable: true });
  });
});
