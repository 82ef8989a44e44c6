import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { invalidRecordAt, stockRecordAt, type InvalidKind } from '../../local/stock-catalogue.js';
import { startStocksApi, type StocksApi, type StocksPage } from '../../local/stocks-api.js';
import { startTokenServer, type TokenServer } from '../../local/token-server.js';
import { requestAccessToken } from './oauth-requests.js';

const SYNC_CLIENT = { clientId: 'stock-sync', clientSecret: 'sync-secret' };
const ORDERS_CLIENT = { clientId: 'orders-reader', clientSecret: 'orders-secret' };
const RESOURCE_SERVER = { clientId: 'stocks-api', clientSecret: 'rs-secret' };
const TOTAL_ITEMS = 250;

describe('startStocksApi', () => {
  let tokens: TokenServer;
  let api: StocksApi;
  const invalidEntries = new Map<number, InvalidKind>([
    [3, 'negative-quantity'],
    [104, 'missing-field'],
  ]);

  beforeAll(async () => {
    tokens = await startTokenServer({
      clients: [
        { ...SYNC_CLIENT, authMethod: 'client_secret_post', scopes: ['stocks'] },
        { ...ORDERS_CLIENT, authMethod: 'client_secret_post', scopes: ['orders'] },
      ],
      scopes: ['stocks', 'orders'],
      resourceServer: RESOURCE_SERVER,
    });
    api = await startStocksApi({
      introspection: { url: tokens.introspectionUrl, ...RESOURCE_SERVER },
      totalItems: TOTAL_ITEMS,
      invalidEntries,
    });
  });

  afterAll(async () => {
    await api.stop();
    await tokens.stop();
  });

  afterEach(() => {
    api.setFault(undefined);
    vi.useRealTimers();
  });

  const syncToken = () =>
    requestAccessToken(tokens.tokenUrl, SYNC_CLIENT.clientId, SYNC_CLIENT.clientSecret);

  const getStocks = async (query: string, token?: string) => {
    const response = await fetch(`${api.url}/stocks${query}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  };

  it('refuses a request without a token with 401 invalid_token', async () => {
    const before = api.stats();

    const reply = await getStocks('?page=1');

    expect(reply.status).toBe(401);
    expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
    expect(JSON.parse(reply.text)).toMatchObject({ error: 'invalid_token' });
    expect(api.stats().unauthorized).toBe(before.unauthorized + 1);
  });

  it('refuses a token the token server never issued', async () => {
    const reply = await getStocks('?page=1', 'made-up-token');

    expect(reply.status).toBe(401);
    expect(reply.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('refuses a token once it has been revoked, without echoing it', async () => {
    const token = await syncToken();
    expect((await getStocks('?page=1', token)).status).toBe(200);

    await tokens.revokeAll();
    const reply = await getStocks('?page=1', token);

    expect(reply.status).toBe(401);
    expect(reply.text).not.toContain(token);
    expect(reply.headers.get('www-authenticate')).not.toContain(token);
  });

  it('refuses a token once it has expired', async () => {
    const token = await syncToken();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 2401 * 1000);

    const reply = await getStocks('?page=1', token);

    expect(reply.status).toBe(401);
  });

  it('refuses a token without the stocks scope with 403 insufficient_scope', async () => {
    const token = await requestAccessToken(
      tokens.tokenUrl,
      ORDERS_CLIENT.clientId,
      ORDERS_CLIENT.clientSecret,
      'orders',
    );

    const reply = await getStocks('?page=1', token);

    expect(reply.status).toBe(403);
    expect(reply.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
  });

  it('serves the first page with the catalogue totals', async () => {
    const token = await syncToken();

    const reply = await getStocks('?page=1&pageSize=100', token);
    const page = JSON.parse(reply.text) as StocksPage;

    expect(reply.status).toBe(200);
    expect(page).toMatchObject({ number: 1, totalPages: 3, totalItems: TOTAL_ITEMS });
    expect(page.entries).toHaveLength(100);
    expect(page.entries[0]).toEqual(stockRecordAt(0));
  });

  it('serves a short last page and an empty page past the end', async () => {
    const token = await syncToken();

    const last = JSON.parse((await getStocks('?page=3&pageSize=100', token)).text) as StocksPage;
    const beyond = JSON.parse((await getStocks('?page=4&pageSize=100', token)).text) as StocksPage;

    expect(last.entries).toHaveLength(50);
    expect(last.entries[49]).toEqual(stockRecordAt(249));
    expect(beyond).toEqual({ number: 4, totalPages: 3, totalItems: TOTAL_ITEMS, entries: [] });
  });

  it('answers the same page identically every time', async () => {
    const token = await syncToken();

    const first = await getStocks('?page=2&pageSize=40', token);
    const second = await getStocks('?page=2&pageSize=40', token);

    expect(first.text).toBe(second.text);
    expect((JSON.parse(first.text) as StocksPage).entries[0]).toEqual(stockRecordAt(40));
  });

  it('uses page 1 and a page size of 100 by default', async () => {
    const token = await syncToken();

    const page = JSON.parse((await getStocks('', token)).text) as StocksPage;

    expect(page.number).toBe(1);
    expect(page.entries).toHaveLength(100);
  });

  it('serves the configured catalogue indexes broken', async () => {
    const token = await syncToken();

    const first = JSON.parse((await getStocks('?page=1&pageSize=200', token)).text) as StocksPage;

    expect(first.entries[3]).toEqual(invalidRecordAt(3, 'negative-quantity'));
    expect(first.entries[104]).toEqual(invalidRecordAt(104, 'missing-field'));
    expect(first.entries[4]).toEqual(stockRecordAt(4));
  });

  it.each([
    ['page=0'],
    ['page=-1'],
    ['page=abc'],
    ['page=1.5'],
    ['pageSize=0'],
    ['pageSize=1001'],
    ['page=1&page=2'],
  ])('answers 400 with a JSON error for %s', async (query) => {
    const token = await syncToken();

    const reply = await getStocks(`?${query}`, token);

    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.text)).toMatchObject({ error: 'invalid_request' });
  });

  it('accepts the largest page size', async () => {
    const token = await syncToken();

    const reply = await getStocks('?pageSize=1000', token);

    expect(reply.status).toBe(200);
    expect((JSON.parse(reply.text) as StocksPage).totalPages).toBe(1);
  });

  it('lets a fault hook take over a page and counts its attempts', async () => {
    const token = await syncToken();
    const seen: { page: number; attempt: number }[] = [];
    api.setFault((request) => {
      seen.push(request);
      if (request.page === 7 && request.attempt === 1) {
        return {
          status: 500,
          body: '{"error":"boom"}',
          headers: { 'content-type': 'application/json' },
        };
      }
      if (request.page === 7 && request.attempt === 2) return { status: 200, body: '{"number":7,' };
      return undefined;
    });
    const servedBefore = api.stats().pagesServed;

    const statuses = [
      await getStocks('?page=7&pageSize=10', token),
      await getStocks('?page=7&pageSize=10', token),
      await getStocks('?page=7&pageSize=10', token),
    ];

    expect(statuses.map((r) => r.status)).toEqual([500, 200, 200]);
    expect(statuses[1]!.text).toBe('{"number":7,');
    expect((JSON.parse(statuses[2]!.text) as StocksPage).number).toBe(7);
    expect(seen).toEqual([
      { page: 7, attempt: 1 },
      { page: 7, attempt: 2 },
      { page: 7, attempt: 3 },
    ]);
    expect(api.stats().pagesServed).toBe(servedBefore + 1);
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    const token = await syncToken();

    const missing = await fetch(`${api.url}/orders`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const posted = await fetch(`${api.url}/stocks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });

    expect(missing.status).toBe(404);
    expect(posted.status).toBe(405);
  });
});

describe('startStocksApi with its own token server', () => {
  it('answers 503 when the token server refuses its credentials', async () => {
    const tokens = await startTokenServer({
      clients: [{ ...SYNC_CLIENT, authMethod: 'client_secret_post', scopes: ['stocks'] }],
      resourceServer: RESOURCE_SERVER,
    });
    const api = await startStocksApi({
      introspection: {
        url: tokens.introspectionUrl,
        clientId: RESOURCE_SERVER.clientId,
        clientSecret: 'wrong',
      },
    });
    try {
      const token = await requestAccessToken(
        tokens.tokenUrl,
        SYNC_CLIENT.clientId,
        SYNC_CLIENT.clientSecret,
      );

      const response = await fetch(`${api.url}/stocks`, {
        headers: { authorization: `Bearer ${token}` },
      });

      expect(response.status).toBe(503);
      expect(await response.text()).not.toContain(token);
    } finally {
      await api.stop();
      await tokens.stop();
    }
  });

  it('serves 20 000 items by default', async () => {
    const tokens = await startTokenServer({
      clients: [{ ...SYNC_CLIENT, authMethod: 'client_secret_post', scopes: ['stocks'] }],
      resourceServer: RESOURCE_SERVER,
    });
    const api = await startStocksApi({
      introspection: { url: tokens.introspectionUrl, ...RESOURCE_SERVER },
    });
    try {
      const token = await requestAccessToken(
        tokens.tokenUrl,
        SYNC_CLIENT.clientId,
        SYNC_CLIENT.clientSecret,
      );

      const response = await fetch(`${api.url}/stocks?page=200`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const page = (await response.json()) as StocksPage;

      expect(page).toMatchObject({ number: 200, totalPages: 200, totalItems: 20_000 });
      expect(page.entries[99]).toEqual(stockRecordAt(19_999));
    } finally {
      await api.stop();
      await tokens.stop();
    }
  });
});
