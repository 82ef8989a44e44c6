import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { beforeEach, describe, expect, it } from 'vitest';
import { TokenBroker } from '../../shared/broker.js';
import { tokenCacheKey } from '../../shared/cache-key.js';
import { ClientProfileStore } from '../../shared/client-profile-store.js';
import { BrokerError } from '../../shared/errors.js';
import { tokenHash } from '../../shared/redact.js';
import { TokenEndpointClient } from '../../shared/token-endpoint.js';
import { TokenTable } from '../../shared/token-table.js';
import { FakeAwsClient, serviceError } from '../helpers/fake-aws.js';
import { scriptedFetch, type ScriptedReply } from '../helpers/fake-fetch.js';
import { LogRecorder } from '../helpers/log-recorder.js';

const SECRET = 'cs-broker-unit-secret';
const TOKEN_URL = 'https://sts.example.test/connect/token';
const START_MS = 1_800_000_000_000;
const KEY = tokenCacheKey(TOKEN_URL, 'ff_amazing_client', ['stocks']);

function profileDocument(secret = SECRET) {
  return JSON.stringify({
    client_id: 'ff_amazing_client',
    client_secret: secret,
    token_url: TOKEN_URL,
    scopes: ['stocks'],
  });
}

function tokenReply(accessToken: string, expiresIn = 2400): ScriptedReply {
  return { body: { access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn } };
}

/** A token table held in a Map, with the two conditions TokenTable uses. */
function fakeTokenTable() {
  const items = new Map<string, Record<string, any>>();
  const client = new FakeAwsClient({
    GetItemCommand: (input) => ({ Item: items.get(input.Key.cacheKey.S) }),
    PutItemCommand: (input) => {
      const existing = items.get(input.Item.cacheKey.S);
      const newExpiry = Number(input.ExpressionAttributeValues[':expiresAt'].N);
      if (existing && !(Number(existing.expiresAt.N) < newExpiry)) {
        throw new ConditionalCheckFailedException({ message: 'failed', $metadata: {} });
      }
      items.set(input.Item.cacheKey.S, input.Item);
      return {};
    },
    DeleteItemCommand: (input) => {
      const existing = items.get(input.Key.cacheKey.S);
      if (existing?.tokenHash.S !== input.ExpressionAttributeValues[':hash'].S) {
        throw new ConditionalCheckFailedException({ message: 'failed', $metadata: {} });
      }
      items.delete(input.Key.cacheKey.S);
      return {};
    },
  });
  return { items, client };
}

function setup(replies: ScriptedReply[], secretVersions = [profileDocument()]) {
  const state = { nowMs: START_MS };
  const clock = () => state.nowMs;
  const log = new LogRecorder();
  const table = fakeTokenTable();
  let secretReads = 0;
  const secrets = new FakeAwsClient({
    GetSecretValueCommand: () => {
      const index = Math.min(secretReads++, secretVersions.length - 1);
      return { SecretString: secretVersions[index], VersionId: `v${index + 1}` };
    },
  });
  const scripted = scriptedFetch(replies);
  const broker = new TokenBroker({
    profiles: new ClientProfileStore(secrets.as<SecretsManagerClient>(), {
      prefix: 'token-broker/clients/',
      clock,
      log,
    }),
    tokenEndpoint: new TokenEndpointClient({
      fetch: scripted.fetch,
      clock,
      sleep: async () => undefined,
      log,
    }),
    tokens: new TokenTable(table.client.as<DynamoDBClient>(), 'tokens'),
    log,
    clock,
  });
  return { broker, state, log, table, secrets, requests: scripted.requests };
}

describe('TokenBroker', () => {
  let s: ReturnType<typeof setup>;

  describe('with an empty cache', () => {
    beforeEach(() => {
      s = setup([tokenReply('at-1'), tokenReply('at-2')]);
    });

    it('gets a token from the token endpoint and caches it with an absolute expiry', async () => {
      const reply = await s.broker.getToken({ client: 'farfetch' });

      expect(reply).toEqual({
        accessToken: 'at-1',
        tokenType: 'Bearer',
        expiresAt: START_MS / 1000 + 2400,
        scope: 'stocks',
        source: 'token_endpoint',
      });
      const item = s.table.items.get(KEY)!;
      expect(item.expiresAt.N).toBe(String(START_MS / 1000 + 2400));
      expect(item.ttl.N).toBe(item.expiresAt.N);
      expect(item.tokenHash.S).toBe(tokenHash('at-1'));
    });

    it('serves the cached token to the next request without a token request', async () => {
      await s.broker.getToken({ client: 'farfetch' });
      s.state.nowMs += 1000 * 1000;

      const reply = await s.broker.getToken({ client: 'farfetch', scopes: ['stocks', 'stocks'] });

      expect(reply).toMatchObject({ accessToken: 'at-1', source: 'cache' });
      expect(s.requests).toHaveLength(1);
    });

    it('reads the cache with ConsistentRead', async () => {
      await s.broker.getToken({ client: 'farfetch' });

      expect(s.table.client.calls.find((c) => c.command === 'GetItemCommand')?.input).toMatchObject(
        { ConsistentRead: true },
      );
    });
  });

  describe('expiry buffer', () => {
    it('stops serving a cached token 60 s before it expires', async () => {
      s = setup([tokenReply('at-1'), tokenReply('at-2')]);
      await s.broker.getToken({ client: 'farfetch' });

      s.state.nowMs = START_MS + (2400 - 61) * 1000;
      expect((await s.broker.getToken({ client: 'farfetch' })).accessToken).toBe('at-1');
      s.state.nowMs = START_MS + (2400 - 60) * 1000;
      expect((await s.broker.getToken({ client: 'farfetch' })).accessToken).toBe('at-2');
    });

    it('uses 10 % of a short lifetime as the buffer', async () => {
      s = setup([tokenReply('at-1', 100), tokenReply('at-2', 100)]);
      await s.broker.getToken({ client: 'farfetch' });

      s.state.nowMs = START_MS + 89_000;
      expect((await s.broker.getToken({ client: 'farfetch' })).accessToken).toBe('at-1');
      s.state.nowMs = START_MS + 90_000;
      expect((await s.broker.getToken({ client: 'farfetch' })).accessToken).toBe('at-2');
    });

    it('never serves a present item whose expiry has passed (TTL deletes lazily)', async () => {
      s = setup([tokenReply('at-1'), tokenReply('at-2')]);
      await s.broker.getToken({ client: 'farfetch' });
      s.state.nowMs = START_MS + 3 * 86_400_000;

      const reply = await s.broker.getToken({ client: 'farfetch' });

      expect(reply).toMatchObject({ accessToken: 'at-2', source: 'token_endpoint' });
    });
  });

  it('never lets a write replace a token that expires later', async () => {
    s = setup([tokenReply('at-short', 600)]);
    const laterExpiry = START_MS / 1000 + 5000;
    s.table.items.set(KEY, {
      cacheKey: { S: KEY },
      accessToken: { S: 'at-long' },
      tokenHash: { S: tokenHash('at-long') },
      // Written by another environment while this one was fetching.
      expiresAt: { N: String(laterExpiry) },
      lifetimeSecs: { N: '5000' },
    });
    const read = s.table.client.send;
    let first = true;
    s.table.client.send = async (command) => {
      if (first && command.constructor.name === 'GetItemCommand') {
        first = false;
        return {};
      }
      return read(command);
    };

    const reply = await s.broker.getToken({ client: 'farfetch' });

    expect(reply.accessToken).toBe('at-short');
    expect(s.table.items.get(KEY)!.accessToken.S).toBe('at-long');
    expect(s.table.items.get(KEY)!.expiresAt.N).toBe(String(laterExpiry));
  });

  it('treats a failing cache as a miss and still serves a token', async () => {
    s = setup([tokenReply('at-1')]);
    s.table.client.send = async () => {
      throw serviceError('ProvisionedThroughputExceededException');
    };

    const reply = await s.broker.getToken({ client: 'farfetch' });

    expect(reply.accessToken).toBe('at-1');
    expect(s.log.messages('warn')).toContain('token cache unavailable, treated as a miss');
    expect(s.log.messages('warn')).toContain('token could not be cached');
  });

  it('never caches a failed token request', async () => {
    s = setup([{ status: 400, body: { error: 'invalid_scope' } }]);

    await expect(s.broker.getToken({ client: 'farfetch', scopes: ['nope'] })).rejects.toMatchObject(
      {
        code: 'invalid_scope',
      },
    );
    expect(s.table.items.size).toBe(0);
    expect(s.table.client.count('PutItemCommand')).toBe(0);
  });

  describe('rejected tokens', () => {
    it('evicts the cached token when its hash is reported and fetches a new one', async () => {
      s = setup([tokenReply('at-1'), tokenReply('at-2')]);
      await s.broker.getToken({ client: 'farfetch' });

      const reply = await s.broker.getToken({
        client: 'farfetch',
        rejectedTokenHash: tokenHash('at-1'),
      });

      expect(reply).toMatchObject({ accessToken: 'at-2', source: 'token_endpoint' });
      expect(s.table.items.get(KEY)!.accessToken.S).toBe('at-2');
    });

    it('serves the current token when an older one is reported, without a token request', async () => {
      s = setup([tokenReply('at-1')]);
      await s.broker.getToken({ client: 'farfetch' });

      const reply = await s.broker.getToken({
        client: 'farfetch',
        rejectedTokenHash: tokenHash('at-old'),
      });

      expect(reply).toMatchObject({ accessToken: 'at-1', source: 'cache' });
      expect(s.requests).toHaveLength(1);
    });
  });

  describe('secret rotation', () => {
    it('rereads the secret after invalid_client and retries once when its version changed', async () => {
      s = setup(
        [{ status: 400, body: { error: 'invalid_client' } }, tokenReply('at-rotated')],
        [profileDocument('old'), profileDocument('new')],
      );

      const reply = await s.broker.getToken({ client: 'farfetch' });

      expect(reply.accessToken).toBe('at-rotated');
      expect(s.secrets.count('GetSecretValueCommand')).toBe(2);
      expect(new URLSearchParams(s.requests[1]!.body).get('client_secret')).toBe('new');
    });

    it('reports invalid_client without a retry when the secret did not change', async () => {
      s = setup([{ status: 401, body: { error: 'invalid_client' } }]);

      const error = await s.broker.getToken({ client: 'farfetch' }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(BrokerError);
      expect((error as BrokerError).code).toBe('invalid_client');
      expect(s.requests).toHaveLength(1);
      expect(s.log.messages('error')).toContain('token request refused or failed');
    });
  });

  it('names an unknown client without touching the token endpoint', async () => {
    s = setup([]);
    s.secrets.send = async () => {
      throw serviceError('ResourceNotFoundException');
    };

    await expect(s.broker.getToken({ client: 'nobody' })).rejects.toMatchObject({
      code: 'unknown_client',
      retryable: false,
      message: expect.stringContaining('token-broker/clients/nobody'),
    });
  });

  it('keeps the secret and every token out of the log', async () => {
    s = setup([tokenReply('at-secret-token-1'), { status: 400, body: { error: 'invalid_scope' } }]);
    await s.broker.getToken({ client: 'farfetch' });
    await s.broker.getToken({ client: 'farfetch', scopes: ['other'] }).catch(() => undefined);

    expect(s.log.text()).not.toContain(SECRET);
    expect(s.log.text()).not.toContain('at-secret-token-1');
  });
});
