import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { startTokenServer, type TokenServer } from '../../local/token-server.js';
import { basicAuth, postForm, requestAccessToken } from './oauth-requests.js';

const POST_CLIENT = {
  clientId: 'stock-sync',
  clientSecret: 'post-secret',
  authMethod: 'client_secret_post',
  scopes: ['stocks'],
} as const;
const BASIC_CLIENT = {
  clientId: 'basic-caller',
  clientSecret: 'basic-secret',
  authMethod: 'client_secret_basic',
  scopes: ['stocks'],
} as const;
const RESOURCE_SERVER = { clientId: 'stocks-api', clientSecret: 'rs-secret' };

describe('startTokenServer', () => {
  let server: TokenServer;
  const consoleLines: string[] = [];

  beforeAll(async () => {
    // Prepare: record console output while oidc-provider loads and starts.
    const record = (...args: unknown[]) => void consoleLines.push(args.map(String).join(' '));
    const spies = (['log', 'info', 'warn', 'error'] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation(record),
    );
    try {
      server = await startTokenServer({
        clients: [
          { ...POST_CLIENT, scopes: [...POST_CLIENT.scopes] },
          { ...BASIC_CLIENT, scopes: [...BASIC_CLIENT.scopes] },
          {
            clientId: 'orders-only',
            clientSecret: 'orders-secret',
            authMethod: 'client_secret_post',
            scopes: ['orders'],
          },
        ],
        scopes: ['stocks', 'orders'],
        resourceServer: RESOURCE_SERVER,
      });
    } finally {
      spies.forEach((spy) => spy.mockRestore());
    }
  });

  afterAll(() => server.stop());
  afterEach(() => vi.useRealTimers());

  const tokenRequest = (form: Record<string, string>, headers?: Record<string, string>) =>
    postForm(server.tokenUrl, { grant_type: 'client_credentials', ...form }, headers);

  const introspect = (token: string, caller = RESOURCE_SERVER) =>
    postForm(server.introspectionUrl, { token }, basicAuth(caller.clientId, caller.clientSecret));

  it('starts quietly on loopback with the Farfetch STS paths', () => {
    expect(consoleLines.filter((line) => line.includes('oidc-provider'))).toEqual([]);
    expect(server.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.tokenUrl).toBe(`${server.issuer}/connect/token`);
    expect(server.introspectionUrl).toBe(`${server.issuer}/connect/introspect`);
    expect(server.revocationUrl).toBe(`${server.issuer}/connect/revocation`);
  });

  it('issues an opaque bearer token to a client_secret_post client', async () => {
    const reply = await tokenRequest({
      client_id: POST_CLIENT.clientId,
      client_secret: POST_CLIENT.clientSecret,
      scope: 'stocks',
    });

    expect(reply.status).toBe(200);
    expect(Object.keys(reply.body).sort()).toEqual([
      'access_token',
      'expires_in',
      'scope',
      'token_type',
    ]);
    expect(reply.body).toMatchObject({ token_type: 'Bearer', expires_in: 2400, scope: 'stocks' });
    const token = String(reply.body.access_token);
    expect(token.split('.')).toHaveLength(1); // not a JWT
    expect(server.issuedTokens()).toContain(token);
  });

  it('issues a token to a client_secret_basic client that uses HTTP Basic', async () => {
    const reply = await tokenRequest(
      { scope: 'stocks' },
      basicAuth(BASIC_CLIENT.clientId, BASIC_CLIENT.clientSecret),
    );

    expect(reply.status).toBe(200);
    expect(reply.body.scope).toBe('stocks');
  });

  it('grants every allowed scope when the request names none', async () => {
    const reply = await tokenRequest({
      client_id: POST_CLIENT.clientId,
      client_secret: POST_CLIENT.clientSecret,
    });

    expect(reply.status).toBe(200);
    expect(reply.body.scope).toBe('stocks');
  });

  it('refuses a wrong secret with invalid_client', async () => {
    const reply = await tokenRequest({
      client_id: POST_CLIENT.clientId,
      client_secret: 'not-the-secret',
      scope: 'stocks',
    });

    expect(reply.status).toBe(401);
    expect(reply.body.error).toBe('invalid_client');
  });

  it('refuses an unknown client with invalid_client', async () => {
    const reply = await tokenRequest({
      client_id: 'stranger',
      client_secret: 'x',
      scope: 'stocks',
    });

    expect(reply.status).toBe(401);
    expect(reply.body.error).toBe('invalid_client');
  });

  it('refuses an unknown scope with invalid_scope', async () => {
    const reply = await tokenRequest({
      client_id: POST_CLIENT.clientId,
      client_secret: POST_CLIENT.clientSecret,
      scope: 'stocks payments',
    });

    expect(reply.status).toBe(400);
    expect(reply.body.error).toBe('invalid_scope');
  });

  it('refuses a known scope the client is not allowed with invalid_scope', async () => {
    const reply = await tokenRequest({
      client_id: POST_CLIENT.clientId,
      client_secret: POST_CLIENT.clientSecret,
      scope: 'orders',
    });

    expect(reply.status).toBe(400);
    expect(reply.body.error).toBe('invalid_scope');
  });

  it('refuses HTTP Basic from a client registered for client_secret_post', async () => {
    const reply = await tokenRequest(
      { scope: 'stocks' },
      basicAuth(POST_CLIENT.clientId, POST_CLIENT.clientSecret),
    );

    expect(reply.status).toBe(401);
    expect(reply.body.error).toBe('invalid_client');
  });

  it('refuses form credentials from a client registered for client_secret_basic', async () => {
    const reply = await tokenRequest({
      client_id: BASIC_CLIENT.clientId,
      client_secret: BASIC_CLIENT.clientSecret,
      scope: 'stocks',
    });

    expect(reply.status).toBe(401);
    expect(reply.body.error).toBe('invalid_client');
  });

  it('refuses credentials sent both ways at once with invalid_request', async () => {
    const reply = await tokenRequest(
      {
        client_id: BASIC_CLIENT.clientId,
        client_secret: BASIC_CLIENT.clientSecret,
        scope: 'stocks',
      },
      basicAuth(BASIC_CLIENT.clientId, BASIC_CLIENT.clientSecret),
    );

    expect(reply.status).toBe(400);
    expect(reply.body.error).toBe('invalid_request');
  });

  it('does not issue tokens to the resource server client', async () => {
    const reply = await tokenRequest(
      { scope: 'stocks' },
      basicAuth(RESOURCE_SERVER.clientId, RESOURCE_SERVER.clientSecret),
    );

    expect(reply.status).toBe(400);
  });

  it('lets the resource server introspect a token issued to another client', async () => {
    const token = await requestAccessToken(
      server.tokenUrl,
      POST_CLIENT.clientId,
      POST_CLIENT.clientSecret,
    );

    const reply = await introspect(token);

    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      active: true,
      client_id: POST_CLIENT.clientId,
      scope: 'stocks',
      token_type: 'Bearer',
    });
    expect(Number(reply.body.exp) - Number(reply.body.iat)).toBe(2400);
  });

  it("tells a third client nothing about someone else's token", async () => {
    const token = await requestAccessToken(
      server.tokenUrl,
      POST_CLIENT.clientId,
      POST_CLIENT.clientSecret,
    );

    const reply = await introspect(token, BASIC_CLIENT);

    expect(reply.body).toEqual({ active: false });
  });

  it('reports an unknown token as inactive', async () => {
    const reply = await introspect('never-issued');

    expect(reply.body).toEqual({ active: false });
  });

  it('reports a token as inactive once it has expired', async () => {
    const token = await requestAccessToken(
      server.tokenUrl,
      POST_CLIENT.clientId,
      POST_CLIENT.clientSecret,
    );
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 2401 * 1000);

    const reply = await introspect(token);

    expect(reply.body).toEqual({ active: false });
  });

  it('reports a token revoked by its client as inactive', async () => {
    const token = await requestAccessToken(
      server.tokenUrl,
      POST_CLIENT.clientId,
      POST_CLIENT.clientSecret,
    );

    const revoked = await postForm(server.revocationUrl, {
      token,
      client_id: POST_CLIENT.clientId,
      client_secret: POST_CLIENT.clientSecret,
    });

    expect(revoked.status).toBe(200);
    expect((await introspect(token)).body).toEqual({ active: false });
  });

  it('makes every issued token inactive on revokeAll', async () => {
    const first = await requestAccessToken(
      server.tokenUrl,
      POST_CLIENT.clientId,
      POST_CLIENT.clientSecret,
    );
    const second = await requestAccessToken(
      server.tokenUrl,
      POST_CLIENT.clientId,
      POST_CLIENT.clientSecret,
    );

    await server.revokeAll();

    expect((await introspect(first)).body).toEqual({ active: false });
    expect((await introspect(second)).body).toEqual({ active: false });
    const fresh = await requestAccessToken(
      server.tokenUrl,
      POST_CLIENT.clientId,
      POST_CLIENT.clientSecret,
    );
    expect((await introspect(fresh)).body.active).toBe(true);
  });

  it('gives later tokens the lifetime set by setAccessTokenTtl', async () => {
    server.setAccessTokenTtl(60);
    try {
      const reply = await tokenRequest({
        client_id: POST_CLIENT.clientId,
        client_secret: POST_CLIENT.clientSecret,
      });
      expect(reply.body.expires_in).toBe(60);
    } finally {
      server.setAccessTokenTtl(2400);
    }
    expect(() => server.setAccessTokenTtl(0)).toThrow(RangeError);
  });

  it('lets a fault answer token requests in its place, counted but issuing nothing', async () => {
    const before = server.stats();
    const seen: number[] = [];
    server.setFault(({ n }) => {
      seen.push(n);
      return n === before.tokenRequests + 1
        ? { status: 429, headers: { 'retry-after': '30' }, body: '{"error":"slow_down"}' }
        : undefined;
    });
    try {
      const faulted = await tokenRequest({
        client_id: POST_CLIENT.clientId,
        client_secret: POST_CLIENT.clientSecret,
      });
      const served = await tokenRequest({
        client_id: POST_CLIENT.clientId,
        client_secret: POST_CLIENT.clientSecret,
      });

      expect(faulted.status).toBe(429);
      expect(faulted.headers.get('retry-after')).toBe('30');
      expect(faulted.body).toEqual({ error: 'slow_down' });
      expect(served.status).toBe(200);
      expect(seen).toEqual([before.tokenRequests + 1, before.tokenRequests + 2]);
      expect(server.stats()).toEqual({
        tokenRequests: before.tokenRequests + 2,
        tokensIssued: before.tokensIssued + 1,
      });
    } finally {
      server.setFault(undefined);
    }
  });

  it('holds a token reply back for the delay a fault asks, then serves it', async () => {
    server.setFault(() => ({ delayMs: 300 }));
    try {
      const startedMs = Date.now();
      const reply = await tokenRequest({
        client_id: POST_CLIENT.clientId,
        client_secret: POST_CLIENT.clientSecret,
      });

      expect(Date.now() - startedMs).toBeGreaterThanOrEqual(290);
      expect(reply.status).toBe(200);
      expect(server.issuedTokens()).toContain(reply.body.access_token);
    } finally {
      server.setFault(undefined);
    }
  });

  it('issues nothing to a client that hangs up while its reply is held back', async () => {
    const before = server.stats();
    server.setFault(() => ({ delayMs: 5_000 }));
    try {
      const hangUp = AbortSignal.timeout(100);
      const request = fetch(server.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: POST_CLIENT.clientId,
          client_secret: POST_CLIENT.clientSecret,
        }),
        signal: hangUp,
      });

      await expect(request).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(server.stats()).toEqual({
        tokenRequests: before.tokenRequests + 1,
        tokensIssued: before.tokensIssued,
      });
    } finally {
      server.setFault(undefined);
    }
  });

  it('counts every token request and every token issued', async () => {
    const before = server.stats();

    await requestAccessToken(server.tokenUrl, POST_CLIENT.clientId, POST_CLIENT.clientSecret);
    await tokenRequest({ client_id: POST_CLIENT.clientId, client_secret: 'wrong' });
    await introspect('not-counted');

    expect(server.stats()).toEqual({
      tokenRequests: before.tokenRequests + 2,
      tokensIssued: before.tokensIssued + 1,
    });
    expect(server.issuedTokens()).toHaveLength(server.stats().tokensIssued);
  });
});

describe('startTokenServer options', () => {
  it('refuses a client given a scope the server does not support', async () => {
    await expect(
      startTokenServer({
        clients: [
          {
            clientId: 'c',
            clientSecret: 's',
            authMethod: 'client_secret_post',
            scopes: ['orders'],
          },
        ],
        resourceServer: RESOURCE_SERVER,
      }),
    ).rejects.toThrow(RangeError);
  });

  it('issues tokens with the configured lifetime', async () => {
    const server = await startTokenServer({
      clients: [{ ...POST_CLIENT, scopes: ['stocks'] }],
      accessTokenTtlSecs: 300,
      resourceServer: RESOURCE_SERVER,
    });
    try {
      const reply = await postForm(server.tokenUrl, {
        grant_type: 'client_credentials',
        client_id: POST_CLIENT.clientId,
        client_secret: POST_CLIENT.clientSecret,
      });
      expect(reply.body.expires_in).toBe(300);
    } finally {
      await server.stop();
    }
  });
});
