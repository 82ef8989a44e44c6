import { describe, expect, it } from 'vitest';
import type { ClientProfile } from '../../shared/client-profile.js';
import { BrokerError } from '../../shared/errors.js';
import { formEncode } from '../../shared/client-auth.js';
import { TokenEndpointClient, tokenRequest } from '../../shared/token-endpoint.js';
import { scriptedFetch, type ScriptedReply } from '../helpers/fake-fetch.js';
import { LogRecorder } from '../helpers/log-recorder.js';

const SECRET = 'p@ss +/:%= word';
const profile: ClientProfile = {
  clientId: 'ff_amazing_client',
  clientSecret: SECRET,
  tokenUrl: 'https://sts.example.test/connect/token',
  scopes: ['stocks'],
  authMethod: 'client_secret_post',
};
const NOW_SECS = 1_800_000_000;
const TOKEN = { access_token: 'at-xyz', token_type: 'Bearer', expires_in: 2400, scope: 'stocks' };

function setup(replies: ScriptedReply[], overrides: Partial<ClientProfile> = {}) {
  let nowMs = 1_800_000_000_000;
  const sleeps: number[] = [];
  const scripted = scriptedFetch(replies);
  const log = new LogRecorder();
  const client = new TokenEndpointClient({
    fetch: scripted.fetch,
    clock: () => nowMs,
    sleep: async (ms) => {
      sleeps.push(ms);
      nowMs += ms;
    },
    random: () => 1,
    log,
  });
  return {
    client,
    sleeps,
    log,
    requests: scripted.requests,
    profile: { ...profile, ...overrides },
  };
}

async function failure(promise: Promise<unknown>): Promise<BrokerError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BrokerError);
  return error as BrokerError;
}

describe('tokenRequest', () => {
  it('sends client_secret_post credentials as form fields only', async () => {
    const { body, headers } = await tokenRequest(profile, 'stocks', NOW_SECS);

    const form = new URLSearchParams(body);
    expect(form.get('grant_type')).toBe('client_credentials');
    expect(form.get('client_id')).toBe('ff_amazing_client');
    expect(form.get('client_secret')).toBe(SECRET);
    expect(form.get('scope')).toBe('stocks');
    expect(headers.authorization).toBeUndefined();
    expect(headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(headers.accept).toBe('application/json');
  });

  it('form-encodes id and secret before base64 for client_secret_basic (RFC 6749 §2.3.1)', async () => {
    const { body, headers } = await tokenRequest(
      { ...profile, authMethod: 'client_secret_basic' },
      '',
      NOW_SECS,
    );

    const decoded = Buffer.from(headers.authorization!.replace(/^Basic /, ''), 'base64').toString();
    expect(decoded).toBe('ff_amazing_client:p%40ss+%2B%2F%3A%25%3D+word');
    const [id, secret] = decoded
      .split(':')
      .map((part) => decodeURIComponent(part.replace(/\+/g, ' ')));
    expect([id, secret]).toEqual(['ff_amazing_client', SECRET]);
    expect(new URLSearchParams(body).has('client_secret')).toBe(false);
    expect(new URLSearchParams(body).has('client_id')).toBe(false);
    expect(new URLSearchParams(body).has('scope')).toBe(false);
  });

  it('adds audience and resource when the profile names them', async () => {
    const { body } = await tokenRequest(
      { ...profile, audience: 'api', resource: 'https://api.test' },
      's',
      NOW_SECS,
    );

    expect(new URLSearchParams(body).get('audience')).toBe('api');
    expect(new URLSearchParams(body).get('resource')).toBe('https://api.test');
  });

  it('encodes like application/x-www-form-urlencoded', () => {
    expect(formEncode('a b+c/d:e%f=g')).toBe('a+b%2Bc%2Fd%3Ae%25f%3Dg');
  });
});

describe('TokenEndpointClient', () => {
  it('posts to the token URL and returns the validated token', async () => {
    const { client, requests, profile } = setup([{ body: TOKEN }]);

    const grant = await client.requestToken(profile, ['stocks']);

    expect(grant).toMatchObject({ accessToken: 'at-xyz', lifetimeSecs: 2400, scope: 'stocks' });
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: 'POST', url: profile.tokenUrl });
  });

  it('retries a 5xx with backoff, then succeeds', async () => {
    const { client, sleeps, profile } = setup([
      { status: 500, body: 'oops' },
      { status: 502, body: '<html>bad gateway</html>' },
      { body: TOKEN },
    ]);

    const grant = await client.requestToken(profile, ['stocks']);

    expect(grant.accessToken).toBe('at-xyz');
    expect(sleeps).toEqual([200, 400]);
  });

  it('retries a dropped connection', async () => {
    const reset = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } });
    const { client, profile } = setup([{ fail: reset }, { body: TOKEN }]);

    await expect(client.requestToken(profile, ['stocks'])).resolves.toMatchObject({
      accessToken: 'at-xyz',
    });
  });

  it('honours Retry-After on a 429 when it fits the deadline', async () => {
    const { client, sleeps, profile } = setup([
      { status: 429, body: 'slow down', headers: { 'retry-after': '2' } },
      { body: TOKEN },
    ]);

    await client.requestToken(profile, ['stocks']);

    expect(sleeps).toEqual([2000]);
  });

  it('gives up at once with a retryable error when Retry-After passes the deadline', async () => {
    const { client, sleeps, profile } = setup([
      { status: 429, body: '{"message":"quota"}', headers: { 'retry-after': '60' } },
    ]);

    const error = await failure(client.requestToken(profile, ['stocks']));

    expect(error.code).toBe('token_endpoint_unavailable');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('retry after 60 s');
    expect(sleeps).toEqual([]);
  });

  it('stops after three attempts with a retryable error', async () => {
    const { client, requests, profile } = setup([
      { status: 503, body: '' },
      { status: 503, body: '' },
      { status: 503, body: '' },
    ]);

    const error = await failure(client.requestToken(profile, ['stocks']));

    expect(error.code).toBe('token_endpoint_unavailable');
    expect(requests).toHaveLength(3);
  });

  it.each(['invalid_client', 'invalid_scope', 'unauthorized_client'])(
    'never retries %s',
    async (code) => {
      const { client, requests, profile } = setup([{ status: 400, body: { error: code } }]);

      const error = await failure(client.requestToken(profile, ['stocks']));

      expect(error.code).toBe(code);
      expect(requests).toHaveLength(1);
    },
  );

  it('refuses a plain-http token URL that is not loopback', async () => {
    const { client, requests, profile } = setup([], { tokenUrl: 'http://sts.example.test/token' });

    const error = await failure(client.requestToken(profile, ['stocks']));

    expect(error.code).toBe('invalid_profile');
    expect(requests).toHaveLength(0);
  });

  it('refuses a reply larger than the bound', async () => {
    const { client, profile } = setup([
      { body: 'x'.repeat(70_000) },
      { body: 'x'.repeat(70_000) },
      { body: 'x'.repeat(70_000) },
    ]);

    const error = await failure(client.requestToken(profile, ['stocks']));

    expect(error.message).toContain('larger than');
  });

  it('keeps the secret out of every error and log line', async () => {
    const { client, log, profile } = setup([
      { status: 500, body: `echo ${SECRET}` },
      { status: 400, body: { error: 'invalid_client', error_description: `bad ${SECRET}` } },
    ]);

    const error = await failure(client.requestToken(profile, ['stocks']));

    expect(error.message).not.toContain(SECRET);
    expect(log.text()).not.toContain(SECRET);
    expect(log.text()).not.toContain(encodeURIComponent(SECRET));
  });
});
