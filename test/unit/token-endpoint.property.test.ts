/**
 * Properties of the token endpoint client under any reply a server or a proxy
 * could send: arbitrary statuses, headers and bodies, including bodies that
 * echo the client secret in each form it travels in. HTTP is faked at the
 * transport (`fetch`) and time is frozen; only `sleep` and the simulated
 * round trip move the clock.
 */
import { randomBytes } from 'node:crypto';

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { TokenBroker } from '../../shared/broker.js';
import { credentialForms, formEncode } from '../../shared/client-auth.js';
import type { AuthMethod, ClientProfile } from '../../shared/client-profile.js';
import { ClientProfileStore } from '../../shared/client-profile-store.js';
import { BrokerError } from '../../shared/errors.js';
import { TokenEndpointClient } from '../../shared/token-endpoint.js';
import type { TokenGrant } from '../../shared/token-grant.js';
import { TokenTable } from '../../shared/token-table.js';
import { FakeAwsClient } from '../helpers/fake-aws.js';
import { LogRecorder } from '../helpers/log-recorder.js';

const NUM_RUNS = 400;
const START_MS = 1_800_000_000_000;
const TOKEN_URL = 'https://sts.example.test/connect/token';
const CLIENT_ID = 'fake-prop-client';
/** Generated per run; holds every character that form encoding changes. */
const SECRET = `fake prop secret+/:%=${randomBytes(4).toString('hex')}`;

function profileFor(authMethod: AuthMethod): ClientProfile {
  return {
    clientId: CLIENT_ID,
    clientSecret: SECRET,
    tokenUrl: TOKEN_URL,
    scopes: ['stocks:read'],
    authMethod,
  };
}

/** The secret as the client sends it, and as a server could echo it back. */
const SECRET_FORMS = {
  raw: SECRET,
  formEncoded: formEncode(SECRET),
  uriEncoded: encodeURIComponent(SECRET),
  basic: Buffer.from(`${formEncode(CLIENT_ID)}:${formEncode(SECRET)}`).toString('base64'),
};

// ---- Arbitraries ----

const printableAscii = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const headerValue = fc.string({ unit: printableAscii, maxLength: 40 });
const anyText = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
);
const secretForm = fc.constantFrom(...Object.values(SECRET_FORMS));

const retryAfter = fc.oneof(
  fc.nat({ max: 12 }).map(String),
  fc.nat().map(String),
  fc
    .integer({ min: START_MS - 60_000, max: START_MS + 600_000 })
    .map((ms) => new Date(ms).toUTCString()),
  fc.constantFrom('', '0', '-1', '1.5', '2027', '99999999999', 'Wed, 32 Foo 2027'),
  headerValue,
);

const headers = fc.record(
  {
    'content-type': fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'application/problem+json',
        'text/html',
        'text/plain',
      ),
      headerValue,
    ),
    'retry-after': retryAfter,
    'www-authenticate': fc.oneof(
      fc.constantFrom('Basic realm="sts"', 'Bearer error="invalid_token"', 'Negotiate'),
      headerValue,
    ),
  },
  { requiredKeys: [] },
);

const OAUTH_ERRORS = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'access_denied',
  'temporarily_unavailable',
  'server_error',
  'slow_down',
  'constructor',
  '__proto__',
];

const tokenishJson = fc
  .record(
    {
      access_token: fc.oneof(
        fc.string({ unit: printableAscii, minLength: 1, maxLength: 40 }),
        fc.constantFrom('', ' ', 'a b'),
        anyText,
        fc.integer(),
        fc.constant(null),
      ),
      token_type: fc.oneof(
        fc.constantFrom('Bearer', 'bearer', 'BEARER', 'DPoP', 'N_A', ''),
        anyText,
      ),
      expires_in: fc.oneof(
        fc.integer({ min: -1_000_000, max: 10_000_000_000 }),
        fc.double(),
        fc.nat().map(String),
        fc.constantFrom('3599', '3599abc', '', ' 60 ', '1e3', '0', '-1'),
        fc.constant(null),
        anyText,
      ),
      scope: fc.oneof(anyText, fc.integer()),
      error: fc.oneof(fc.constantFrom(...OAUTH_ERRORS), anyText, fc.integer()),
      error_description: anyText,
      id_token: anyText,
    },
    { requiredKeys: [] },
  )
  .map((body) => JSON.stringify(body));

/** A body with one form of the secret echoed somewhere a server might put it. */
const bodyWithSecret = fc
  .tuple(secretForm, anyText, fc.constantFrom(...OAUTH_ERRORS))
  .chain(([secret, text, code]) =>
    fc.constantFrom(
      JSON.stringify({ error: code, error_description: `${text} ${secret} ${text}` }),
      JSON.stringify({ error: secret }),
      JSON.stringify({ error: `${code} ${secret}` }),
      JSON.stringify({ message: `bad credentials ${secret}` }),
      `client_id=${CLIENT_ID}&client_secret=${secret}`,
      `<html><body><p>${secret}</p>${text}</body></html>`,
      `${secret}`,
      `Unauthorized: Basic ${secret}`,
    ),
  );

const body = fc.oneof(
  anyText,
  tokenishJson,
  anyText.map((text) => `<html><head><title>502</title></head><body>${text}</body></html>`),
  bodyWithSecret,
  fc.constantFrom('', '{', '[]', 'null', '{}', '"str"'),
);

interface ScriptedReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Simulated round trip: how far the clock moves while this request is out. */
  latencyMs: number;
  /** Drop the connection instead of answering. */
  drop: boolean;
}

const anyReply: fc.Arbitrary<ScriptedReply> = fc.record({
  status: fc.oneof(
    fc.integer({ min: 100, max: 599 }),
    fc.constantFrom(200, 201, 400, 401, 403, 429, 500, 502, 503),
  ),
  headers,
  body,
  latencyMs: fc.integer({ min: 0, max: 3000 }),
  drop: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
});

/** A 200 that is a token reply or close to one, so grants are generated often. */
const nearlyValidToken = fc
  .record(
    {
      access_token: fc.oneof(
        { arbitrary: fc.string({ unit: printableAscii, minLength: 1, maxLength: 60 }), weight: 4 },
        { arbitrary: anyText, weight: 1 },
      ),
      token_type: fc.constantFrom('Bearer', 'bearer', 'BEARER', 'DPoP'),
      expires_in: fc.oneof(
        fc.integer({ min: -10, max: 200_000 }),
        fc.double({ min: -1, max: 1e9, noNaN: true }),
        fc.integer({ min: 0, max: 200_000 }).map(String),
        fc.constant(null),
      ),
      scope: fc.oneof(fc.constantFrom('stocks:read', 'read:a', '', '  '), anyText),
      ext_expires_in: fc.nat().map(String),
      id_token: anyText,
    },
    { requiredKeys: ['access_token', 'token_type'] },
  )
  .map((fields) => JSON.stringify(fields));

const tokenReply: fc.Arbitrary<ScriptedReply> = fc.record({
  status: fc.constantFrom(200, 201),
  headers,
  body: nearlyValidToken,
  latencyMs: fc.integer({ min: 0, max: 3000 }),
  drop: fc.constant(false),
});

const reply = fc.oneof({ arbitrary: anyReply, weight: 3 }, { arbitrary: tokenReply, weight: 1 });

const clientOptions = fc
  .record({
    maxAttempts: fc.integer({ min: 1, max: 4 }),
    deadlineMs: fc.integer({ min: 500, max: 10_000 }),
    baseDelayMs: fc.integer({ min: 0, max: 1000 }),
    maxLifetimeSecs: fc.integer({ min: 60, max: 86_400 }),
    defaultLifetimeRatio: fc.double({ min: 0, max: 1, noNaN: true }),
    random: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    startOffsetMs: fc.integer({ min: 0, max: 999_999 }),
    authMethod: fc.constantFrom<AuthMethod>('client_secret_post', 'client_secret_basic'),
  })
  .map((options) => ({
    ...options,
    defaultLifetimeSecs: Math.max(
      1,
      Math.floor(options.defaultLifetimeRatio * options.maxLifetimeSecs),
    ),
  }));

// ---- Harness ----

/** A response as `fetch` would give it; built by hand so 1xx and 204 can carry a body. */
function fakeResponse(scripted: ScriptedReply): Response {
  return {
    status: scripted.status,
    headers: new Headers(scripted.headers),
    body: new Blob([scripted.body]).stream(),
  } as unknown as Response;
}

type ClientOptions = typeof clientOptions extends fc.Arbitrary<infer T> ? T : never;

async function run(replies: ScriptedReply[], options: ClientOptions) {
  const time = { nowMs: START_MS + options.startOffsetMs };
  const waitsMs: number[] = [];
  const sentAtMs: number[] = [];
  const log = new LogRecorder();
  const queue = [...replies];

  const fetchImpl = async () => {
    sentAtMs.push(time.nowMs);
    const next = queue.shift();
    if (!next) throw new Error(`request ${sentAtMs.length} beyond the script`);
    time.nowMs += next.latencyMs;
    if (next.drop)
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } });
    return fakeResponse(next);
  };
  const client = new TokenEndpointClient({
    fetch: fetchImpl as typeof fetch,
    clock: () => time.nowMs,
    sleep: async (ms) => {
      waitsMs.push(ms);
      time.nowMs += ms;
    },
    random: () => options.random,
    maxAttempts: options.maxAttempts,
    deadlineMs: options.deadlineMs,
    baseDelayMs: options.baseDelayMs,
    maxLifetimeSecs: options.maxLifetimeSecs,
    defaultLifetimeSecs: options.defaultLifetimeSecs,
    log,
  });

  let grant: TokenGrant | undefined;
  let error: unknown;
  try {
    grant = await client.requestToken(profileFor(options.authMethod), ['stocks:read']);
  } catch (caught) {
    error = caught;
  }
  return { grant, error, waitsMs, sentAtMs, log };
}

const scenario = fc.record({
  replies: fc.array(reply, { minLength: 4, maxLength: 4 }),
  options: clientOptions,
});

function check(
  property: (outcome: Awaited<ReturnType<typeof run>>, options: ClientOptions) => void,
) {
  return fc.assert(
    fc.asyncProperty(scenario, async ({ replies, options }) => {
      property(await run(replies, options), options);
    }),
    { numRuns: NUM_RUNS },
  );
}

describe('TokenEndpointClient under arbitrary replies', () => {
  it('never throws anything but a BrokerError', async () => {
    await check(({ grant, error }) => {
      if (error !== undefined) expect(error).toBeInstanceOf(BrokerError);
      else expect(grant).toBeDefined();
    });
  });

  it('returns only a Bearer grant with a usable token and a bounded lifetime counted from its send time', async () => {
    await check(({ grant, sentAtMs }, options) => {
      if (!grant) return;
      expect(typeof grant.accessToken).toBe('string');
      expect(grant.accessToken.length).toBeGreaterThan(0);
      expect(grant.tokenType).toBe('Bearer');
      expect(Number.isInteger(grant.lifetimeSecs)).toBe(true);
      expect(grant.lifetimeSecs).toBeGreaterThan(0);
      expect(grant.lifetimeSecs).toBeLessThanOrEqual(options.maxLifetimeSecs);
      const lastSentAtMs = sentAtMs[sentAtMs.length - 1]!;
      expect(grant.expiresAt).toBe((lastSentAtMs + grant.lifetimeSecs * 1000) / 1000);
    });
  });

  it('sends at most maxAttempts requests and waits less than the deadline in total', async () => {
    await check(({ sentAtMs, waitsMs }, options) => {
      expect(sentAtMs.length).toBeGreaterThanOrEqual(1);
      expect(sentAtMs.length).toBeLessThanOrEqual(options.maxAttempts);
      expect(waitsMs.length).toBeLessThan(sentAtMs.length);
      for (const wait of waitsMs) expect(wait).toBeGreaterThanOrEqual(0);
      expect(waitsMs.reduce((sum, ms) => sum + ms, 0)).toBeLessThanOrEqual(options.deadlineMs);
    });
  });

  it('keeps every form of the secret out of the error and the log', async () => {
    await check(({ error, log }) => {
      const texts: Record<string, string> = { log: log.text() };
      if (error instanceof BrokerError) {
        texts.message = error.message;
        texts.json = `${JSON.stringify(error)} ${JSON.stringify(error.toReply())}`;
      }
      for (const [formName, form] of Object.entries(SECRET_FORMS)) {
        for (const [where, text] of Object.entries(texts)) {
          expect(text.includes(form), `${formName} secret in ${where}: ${text}`).toBe(false);
        }
      }
    });
  });

  it('redacts the same forms the fixtures assert on', () => {
    const forms = credentialForms(profileFor('client_secret_post'));

    expect(forms).toEqual(expect.arrayContaining(Object.values(SECRET_FORMS)));
  });
});

// ---- Through the broker: a failure is never cached ----

/** A permissive DynamoDB: an empty table where every conditional write succeeds. */
function permissiveTable() {
  return new FakeAwsClient({
    GetItemCommand: () => ({}),
    PutItemCommand: () => ({}),
    UpdateItemCommand: () => ({}),
    DeleteItemCommand: () => ({}),
  });
}

/** Commands that wrote a token, whatever write the table uses for it. */
function tokenWrites(dynamo: FakeAwsClient) {
  return dynamo.calls.filter(
    (call) =>
      call.command === 'PutItemCommand' ||
      (call.command === 'UpdateItemCommand' &&
        /\baccessToken\b|#accessToken/.test(JSON.stringify(call.input)) &&
        !/^REMOVE\b/.test(String(call.input.UpdateExpression ?? ''))),
  );
}

describe('TokenBroker under arbitrary replies', () => {
  it('never writes a token to the table after a failing reply', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(reply, { minLength: 3, maxLength: 3 }),
        fc.constantFrom<AuthMethod>('client_secret_post', 'client_secret_basic'),
        async (replies, authMethod) => {
          const time = { nowMs: START_MS };
          const clock = () => time.nowMs;
          const log = new LogRecorder();
          const dynamo = permissiveTable();
          const secrets = new FakeAwsClient({
            GetSecretValueCommand: () => ({
              SecretString: JSON.stringify({
                client_id: CLIENT_ID,
                client_secret: SECRET,
                token_url: TOKEN_URL,
                scopes: ['stocks:read'],
                auth_method: authMethod,
              }),
              VersionId: 'v1',
            }),
          });
          const queue = [...replies];
          const fetchImpl = async () => {
            const next = queue.shift();
            if (!next) throw new Error('request beyond the script');
            return fakeResponse(next);
          };
          const broker = new TokenBroker({
            profiles: new ClientProfileStore(secrets.as<SecretsManagerClient>(), {
              prefix: 'token-broker/clients/',
              clock,
              log,
            }),
            tokenEndpoint: new TokenEndpointClient({
              fetch: fetchImpl as typeof fetch,
              clock,
              sleep: async (ms) => {
                time.nowMs += ms;
              },
              random: () => 0.5,
              log,
            }),
            tokens: new TokenTable(dynamo.as<DynamoDBClient>(), 'tokens'),
            log,
            clock,
            sleep: async (ms) => {
              time.nowMs += ms;
            },
            random: () => 0.5,
          });

          const outcome = await broker.getToken({ client: 'farfetch' }).then(
            () => 'token' as const,
            (error: unknown) => error,
          );

          if (outcome === 'token') {
            expect(tokenWrites(dynamo)).toHaveLength(1);
          } else {
            expect(outcome).toBeInstanceOf(BrokerError);
            expect(tokenWrites(dynamo)).toEqual([]);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
