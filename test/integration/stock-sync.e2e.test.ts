/*
 * The main job end to end on the local stack: the stock sync invoked through
 * the Lambda Invoke API with a real scheduled event, the broker reached the
 * same way, a real oidc-provider token server and dynalite. Every line the
 * functions print and every reply they return is kept, and the last test
 * searches all of it for the client secret and every token ever issued.
 */
import { GetItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduledEvent } from '../../local/scheduled-event.js';
import {
  LOCAL_CLIENT_ID,
  LOCAL_PROFILE,
  startLocalStack,
  type LocalStack,
} from '../../local/stack.js';
import { tokenCacheKey } from '../../shared/cache-key.js';
import { tokenHash } from '../../shared/redact.js';
import type { SyncRunSummary } from '../../shared/stocks/sync-run-store.js';

const TOTAL_ITEMS = 3_000;
const INVALID_INDEXES = new Map([
  [7, 'negative-quantity' as const],
  [1_234, 'bad-date' as const],
  [2_999, 'missing-field' as const],
]);
const VALID_ITEMS = TOTAL_ITEMS - INVALID_INDEXES.size;
const WRONG_SECRET = 'wrong-secret-for-the-e2e-test';

let stack: LocalStack;
const logLines: string[] = [];
const replies: unknown[] = [];

function profileDocument(secret: string) {
  return {
    client_id: LOCAL_CLIENT_ID,
    client_secret: secret,
    token_url: stack.endpoints.tokenUrl,
    scopes: ['stocks'],
  };
}

async function sync() {
  const result = await stack.invoke('stockSync', scheduledEvent());
  replies.push(result);
  return result;
}

async function broker(request: unknown) {
  const result = await stack.invoke('tokenBroker', request);
  replies.push(result);
  return result.payload as Record<string, any>;
}

async function count(table: string): Promise<number> {
  const reply = await stack.clients.dynamo.send(
    new ScanCommand({ TableName: table, Select: 'COUNT' }),
  );
  return reply.Count ?? 0;
}

async function runSummary(runId: string) {
  const reply = await stack.clients.dynamo.send(
    new GetItemCommand({ TableName: stack.tables.syncRuns, Key: { runId: { S: runId } } }),
  );
  return reply.Item;
}

const tokenRequests = () => stack.tokenServer.stats().tokenRequests;

beforeAll(async () => {
  stack = await startLocalStack({
    totalItems: TOTAL_ITEMS,
    invalidEntries: INVALID_INDEXES,
    onLog: (line) => logLines.push(line),
  });
});

afterAll(async () => {
  await stack?.stop();
});

describe('stock sync on the local stack', () => {
  it('fails a run with a wrong client secret as invalid_client and writes nothing', async () => {
    await stack.putProfile(LOCAL_PROFILE, profileDocument(WRONG_SECRET));

    const result = await sync();

    expect(result.functionError).toBe('Unhandled');
    expect(JSON.stringify(result.payload)).toContain('invalid_client');
    expect(await count(stack.tables.stocks)).toBe(0);
    const runs = await stack.clients.dynamo.send(
      new ScanCommand({ TableName: stack.tables.syncRuns }),
    );
    expect(runs.Items?.map((item) => item.status?.S)).toEqual(['failed']);
    expect(runs.Items?.[0]?.errorCode?.S).toBe('token_unavailable:invalid_client');
  });

  it('syncs every page cold after the secret is fixed, taking one token', async () => {
    await stack.putProfile(LOCAL_PROFILE, profileDocument(stack.clientSecret));
    const before = stack.tokenServer.stats();

    const result = await sync();

    expect(result.functionError).toBeUndefined();
    const summary = result.payload as SyncRunSummary;
    expect(summary).toMatchObject({
      status: 'succeeded',
      pages: 6,
      totalPages: 6,
      itemsRead: TOTAL_ITEMS,
      written: VALID_ITEMS,
      rejected: INVALID_INDEXES.size,
      tokenSource: 'token_endpoint',
    });
    // The broker still held the wrong secret: refused once, it read the new
    // version past its cache and retried, so two requests and one token.
    const after = stack.tokenServer.stats();
    expect(after.tokenRequests - before.tokenRequests).toBe(2);
    expect(after.tokensIssued - before.tokensIssued).toBe(1);
    expect(await count(stack.tables.stocks)).toBe(VALID_ITEMS);
    expect((await runSummary(summary.runId))?.status?.S).toBe('succeeded');
  });

  it('logs each invalid entry by its key and reason', () => {
    const rejections = logLines
      .filter((line) => line.includes('stock entry rejected'))
      .map((line) => JSON.parse(line.slice(line.indexOf('{'))) as { key: string; reason: string });

    expect(rejections.length).toBeGreaterThanOrEqual(INVALID_INDEXES.size);
    expect(rejections.every((r) => r.key && r.reason)).toBe(true);
  });

  it('syncs warm without any token request', async () => {
    const before = tokenRequests();

    const summary = (await sync()).payload as SyncRunSummary;

    expect(summary).toMatchObject({
      status: 'succeeded',
      written: VALID_ITEMS,
      tokenSource: 'caller_memory',
    });
    expect(tokenRequests() - before).toBe(0);
  });

  it('replaces a token the stocks API refuses mid-run and finishes the run', async () => {
    const before = tokenRequests();
    let refused = false;
    stack.stocksApi.setFault(({ page }) => {
      if (page !== 4 || refused) return undefined;
      refused = true;
      return { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } };
    });

    const summary = (await sync()).payload as SyncRunSummary;
    stack.stocksApi.setFault(undefined);

    expect(summary).toMatchObject({ status: 'succeeded', written: VALID_ITEMS, tokenRefreshes: 1 });
    expect(tokenRequests() - before).toBe(1);
  });

  it('recovers when every issued token was revoked at the token server', async () => {
    await stack.tokenServer.revokeAll();
    const before = tokenRequests();

    const summary = (await sync()).payload as SyncRunSummary;

    expect(summary).toMatchObject({ status: 'succeeded', written: VALID_ITEMS, tokenRefreshes: 1 });
    expect(tokenRequests() - before).toBe(1);
  });
});

describe('token broker on the local stack', () => {
  it('serves the shared cached token to a new caller without a token request', async () => {
    const before = tokenRequests();

    const reply = await broker({ client: LOCAL_PROFILE, scopes: ['stocks'] });

    expect(reply).toMatchObject({ tokenType: 'Bearer', scope: 'stocks' });
    expect(['broker_memory', 'cache']).toContain(reply.source);
    expect(tokenRequests() - before).toBe(0);
  });

  it('never serves a present item whose expiry has passed', async () => {
    // The warm broker holds a token in memory; reporting it as refused makes
    // the broker read the shared item, which now holds an expired token.
    const current = await broker({ client: LOCAL_PROFILE });
    const key = tokenCacheKey({ tokenUrl: stack.endpoints.tokenUrl, clientId: LOCAL_CLIENT_ID }, [
      'stocks',
    ]);
    const past = Math.floor(Date.now() / 1000) - 10;
    await stack.clients.dynamo.send(
      new PutItemCommand({
        TableName: stack.tables.tokens,
        Item: {
          cacheKey: { S: key },
          accessToken: { S: 'expired-but-present-token' },
          tokenHash: { S: '000000000000' },
          tokenType: { S: 'Bearer' },
          expiresAt: { N: String(past) },
          lifetimeSecs: { N: '2400' },
          issuedAt: { N: String(past - 2400) },
          ttl: { N: String(past) },
        },
      }),
    );
    const before = tokenRequests();

    const reply = await broker({
      client: LOCAL_PROFILE,
      rejectedTokenHash: tokenHash(current.accessToken),
    });

    expect(reply.source).toBe('token_endpoint');
    expect(reply.accessToken).not.toBe('expired-but-present-token');
    expect(reply.accessToken).not.toBe(current.accessToken);
    expect(reply.expiresAt).toBeGreaterThan(Date.now() / 1000 + 2000);
    expect(tokenRequests() - before).toBe(1);
  });

  it('reports an unknown scope as invalid_scope without retrying', async () => {
    const before = tokenRequests();

    const reply = await broker({ client: LOCAL_PROFILE, scopes: ['orders'] });

    expect(reply.error).toMatchObject({ code: 'invalid_scope', retryable: false });
    expect(tokenRequests() - before).toBe(1);
  });

  it('answers the scheduled refresh for each profile named', async () => {
    const reply = await broker({ action: 'refresh', clients: [LOCAL_PROFILE, 'nobody'] });

    expect(['fresh', 'refreshed']).toContain(reply.refreshed[LOCAL_PROFILE]);
    expect(reply.refreshed.nobody).toMatchObject({ code: 'unknown_client', retryable: false });
  });

  it('reports an unknown profile as unknown_client', async () => {
    const reply = await broker({ client: 'nobody' });

    expect(reply.error).toMatchObject({ code: 'unknown_client', retryable: false });
  });

  it('reports a malformed request as invalid_request naming the field', async () => {
    const reply = await broker({ client: '../secrets', scopes: ['stocks'] });

    expect(reply.error).toMatchObject({ code: 'invalid_request', retryable: false });
    expect(reply.error.message).toContain('client');
  });

  it('refuses credentials sent with the wrong auth method', async () => {
    await stack.putProfile('basic-client', {
      ...profileDocument(stack.clientSecret),
      auth_method: 'client_secret_basic',
      // A different audience makes a different cache key, so nothing is served from cache.
      audience: 'stocks-api',
    });

    const reply = await broker({ client: 'basic-client' });

    expect(reply.error).toMatchObject({ code: 'invalid_client' });
  });
});

describe('secrets and tokens', () => {
  it('never appear in any log line or reply of the whole run', () => {
    const issued = stack.tokenServer.issuedTokens();
    const everything = [...logLines, ...replies.map((reply) => JSON.stringify(reply))].join('\n');
    const repliesWithoutTokens = replies
      .filter((reply: any) => !reply.payload?.accessToken)
      .map((reply) => JSON.stringify(reply))
      .join('\n');

    expect(issued.length).toBeGreaterThanOrEqual(3);
    expect(everything).not.toContain(stack.clientSecret);
    expect(everything).not.toContain(WRONG_SECRET);
    for (const token of issued) {
      expect(logLines.join('\n')).not.toContain(token);
      expect(repliesWithoutTokens).not.toContain(token);
    }
  });
});
