import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CallerToken } from '../../../shared/broker-client.js';
import { StockSyncError } from '../../../shared/errors.js';
import { StocksApiClient } from '../../../shared/stocks/stocks-api-client.js';
import { LogRecorder } from '../../helpers/log-recorder.js';

const BASE_URL = 'https://stocks.example.test/v1';
const PAGE_SIZE = 2;
const FIRST_TOKEN = 'at-first-Zq9rXw2LmT';
const FRESH_TOKEN = 'at-fresh-Hk4pVb8NsY';

/** A token provider that hands out scripted tokens and counts every call. */
class FakeTokens {
  getTokenCalls = 0;
  readonly rejected: string[] = [];

  constructor(
    private readonly current: string = FIRST_TOKEN,
    private readonly fresh: string[] = [FRESH_TOKEN],
  ) {}

  getToken = async (): Promise<CallerToken> => {
    this.getTokenCalls++;
    return token(this.current, 'cache');
  };

  replaceRejected = async (accessToken: string): Promise<CallerToken> => {
    this.rejected.push(accessToken);
    const next = this.fresh.shift();
    if (!next) throw new Error('unexpected replaceRejected call');
    return token(next, 'token_endpoint');
  };
}

function token(accessToken: string, source: CallerToken['source']): CallerToken {
  return { accessToken, expiresAt: 1_900_000_000, scope: 'stocks', source };
}

interface SentRequest {
  url: URL;
  headers: Headers;
  redirect: RequestInit['redirect'];
}

type Reply = Response | Error;

/** A fetch that answers from a script and refuses any request beyond it. */
class FakeFetch {
  readonly requests: SentRequest[] = [];

  constructor(private readonly replies: Reply[]) {}

  fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    this.requests.push({
      url: new URL(String(input)),
      headers: new Headers(init?.headers),
      redirect: init?.redirect,
    });
    const reply = this.replies.shift();
    if (!reply) throw new Error(`unexpected fetch of ${String(input)}`);
    if (reply instanceof Error) throw reply;
    return reply;
  }) as typeof fetch;

  bearers(): (string | null)[] {
    return this.requests.map((request) => request.headers.get('authorization'));
  }
}

function page(number: number, entries: unknown[] = [{ variantId: 'V-1' }]): Response {
  const body = { number, totalPages: 3, totalItems: 5, entries };
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: { 'content-type': 'application/json' },
  });
}

function status(code: number, body = 'upstream trouble', headers: Record<string, string> = {}) {
  return new Response(body, { status: code, headers });
}

function connectionReset(): Error {
  return new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
}

interface Setup {
  replies: Reply[];
  tokens?: FakeTokens;
  maxAttempts?: number;
  maxDelayMs?: number;
}

function setup({ replies, tokens = new FakeTokens(), maxAttempts, maxDelayMs }: Setup) {
  const http = new FakeFetch(replies);
  const log = new LogRecorder();
  const waits: number[] = [];
  const client = new StocksApiClient({
    baseUrl: BASE_URL,
    pageSize: PAGE_SIZE,
    tokens,
    log,
    fetch: http.fetch,
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
    ...(maxDelayMs === undefined ? {} : { maxDelayMs }),
  });
  return { client, http, log, tokens, waits };
}

async function readError(client: StocksApiClient, pageNumber = 1): Promise<StockSyncError> {
  const error = await client.readPage(pageNumber).then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(StockSyncError);
  return error as StockSyncError;
}

describe('StocksApiClient', () => {
  beforeEach(() => {
    // Backoff jitter at its top, so computed waits are exact.
    vi.spyOn(Math, 'random').mockReturnValue(0.999_999_999);
  });

  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  describe('readPage', () => {
    it('sends the bearer token with the page and pageSize query and returns the page', async () => {
      // Prepare
      const { client, http, tokens, waits } = setup({ replies: [page(2)] });

      // Act
      const read = await client.readPage(2);

      // Assess
      expect(read).toEqual({
        page: { number: 2, totalPages: 3, totalItems: 5, entries: [{ variantId: 'V-1' }] },
        tokenReplaced: false,
      });
      expect(http.requests).toHaveLength(1);
      const [request] = http.requests;
      expect(request?.url.origin + request!.url.pathname).toBe(`${BASE_URL}/stocks`);
      expect(request?.url.searchParams.get('page')).toBe('2');
      expect(request?.url.searchParams.get('pageSize')).toBe(String(PAGE_SIZE));
      expect(request?.headers.get('authorization')).toBe(`Bearer ${FIRST_TOKEN}`);
      expect(request?.headers.get('accept')).toBe('application/json');
      expect(request?.redirect).toBe('manual');
      expect(tokens.getTokenCalls).toBe(1);
      expect(tokens.rejected).toEqual([]);
      expect(waits).toEqual([]);
    });

    it('refuses an invalid page at once without retrying', async () => {
      // Prepare
      const { client, http } = setup({ replies: [page(5)] });

      // Act
      const error = await readError(client, 2);

      // Assess
      expect(error.code).toBe('invalid_page');
      expect(error.message).toContain('number');
      expect(http.requests).toHaveLength(1);
    });

    it('reports a refused token once and retries with the fresh one', async () => {
      // Prepare
      const { client, http, tokens, log, waits } = setup({ replies: [status(401, ''), page(1)] });

      // Act
      const read = await client.readPage(1);

      // Assess
      expect(read.tokenReplaced).toBe(true);
      expect(read.page.number).toBe(1);
      expect(tokens.getTokenCalls).toBe(1);
      expect(tokens.rejected).toEqual([FIRST_TOKEN]);
      expect(http.bearers()).toEqual([`Bearer ${FIRST_TOKEN}`, `Bearer ${FRESH_TOKEN}`]);
      expect(waits).toEqual([]);
      expect(log.messages('warn')).toEqual([
        'stocks API refused the token, asking for a fresh one',
      ]);
    });

    it('fails with stocks_api_unauthorized when the fresh token is refused too', async () => {
      // Prepare
      const tokens = new FakeTokens(FIRST_TOKEN, [FRESH_TOKEN, 'at-never-used']);
      const { client, http } = setup({ replies: [status(401), status(401)], tokens });

      // Act
      const error = await readError(client, 4);

      // Assess
      expect(error.code).toBe('stocks_api_unauthorized');
      expect(error.message).toBe('stocks API refused a fresh token for page 4 (HTTP 401)');
      expect(tokens.rejected).toEqual([FIRST_TOKEN]);
      expect(http.requests).toHaveLength(2);
    });

    it('does not count a refused token as a transient-failure attempt', async () => {
      // Prepare
      const { client, http, tokens } = setup({
        replies: [status(503), status(401), status(503), page(1)],
        maxAttempts: 3,
      });

      // Act
      const read = await client.readPage(1);

      // Assess
      expect(read.tokenReplaced).toBe(true);
      expect(http.requests).toHaveLength(4);
      expect(tokens.rejected).toEqual([FIRST_TOKEN]);
    });

    it.each([500, 503, 429])('retries HTTP %d with exponential backoff', async (code) => {
      // Prepare
      const { client, http, waits, log } = setup({
        replies: [status(code), status(code), page(1)],
        maxAttempts: 3,
      });

      // Act
      const read = await client.readPage(1);

      // Assess
      expect(read.page.number).toBe(1);
      expect(http.requests).toHaveLength(3);
      expect(waits).toHaveLength(2);
      expect(waits[0]).toBeCloseTo(250);
      expect(waits[1]).toBeCloseTo(500);
      expect(log.messages('warn')).toEqual([
        'stocks page failed, retrying',
        'stocks page failed, retrying',
      ]);
    });

    it('keeps each backoff between half and all of its exponential ceiling', async () => {
      // Prepare
      vi.spyOn(Math, 'random').mockReturnValue(0);
      const { client, waits } = setup({
        replies: [status(500), status(500), status(500), page(1)],
        maxAttempts: 4,
      });

      // Act
      await client.readPage(1);

      // Assess
      expect(waits).toEqual([125, 250, 500]);
    });

    it.each([500, 503, 429])(
      'fails with stocks_api_unavailable once HTTP %d outlasts maxAttempts',
      async (code) => {
        // Prepare
        const { client, http, waits } = setup({
          replies: [status(code), status(code), status(code)],
          maxAttempts: 3,
        });

        // Act
        const error = await readError(client, 2);

        // Assess
        expect(error.code).toBe('stocks_api_unavailable');
        expect(error.message).toBe(
          `stocks page 2 failed after 3 attempt(s): HTTP ${code}: "upstream trouble"`,
        );
        expect(http.requests).toHaveLength(3);
        expect(waits).toHaveLength(2);
      },
    );

    it('tries three times by default', async () => {
      // Prepare
      const { client, http } = setup({ replies: [status(500), status(500), status(500)] });

      // Act
      const error = await readError(client);

      // Assess
      expect(error.code).toBe('stocks_api_unavailable');
      expect(http.requests).toHaveLength(3);
    });

    it('waits as long as a Retry-After in seconds asks', async () => {
      // Prepare
      const { client, waits } = setup({
        replies: [status(429, 'slow down', { 'retry-after': '2' }), page(1)],
      });

      // Act
      await client.readPage(1);

      // Assess
      expect(waits).toEqual([2_000]);
    });

    it('honours a Retry-After given as an HTTP date', async () => {
      // Prepare
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date('2026-03-01T02:00:00Z'));
      const { client, waits } = setup({
        replies: [status(503, 'down', { 'retry-after': 'Sun, 01 Mar 2026 02:00:03 GMT' }), page(1)],
      });

      // Act
      await client.readPage(1);

      // Assess
      expect(waits).toEqual([3_000]);
    });

    it('bounds a long Retry-After by maxDelayMs', async () => {
      // Prepare
      const { client, waits } = setup({
        replies: [status(503, 'down', { 'retry-after': '3600' }), page(1)],
        maxDelayMs: 1_500,
      });

      // Act
      await client.readPage(1);

      // Assess
      expect(waits).toEqual([1_500]);
    });

    it('bounds a long Retry-After by 5 seconds by default', async () => {
      // Prepare
      const { client, waits } = setup({
        replies: [status(429, 'busy', { 'retry-after': '86400' }), page(1)],
      });

      // Act
      await client.readPage(1);

      // Assess
      expect(waits).toEqual([5_000]);
    });

    it('bounds the exponential backoff by maxDelayMs', async () => {
      // Prepare
      const { client, waits } = setup({
        replies: [status(500), status(500), status(500), page(1)],
        maxAttempts: 4,
        maxDelayMs: 400,
      });

      // Act
      await client.readPage(1);

      // Assess
      expect(waits.map(Math.round)).toEqual([250, 400, 400]);
    });

    it.each([400, 403, 404, 410, 302])('fails at once on HTTP %d', async (code) => {
      // Prepare
      const { client, http, tokens, waits } = setup({ replies: [status(code, 'no')] });

      // Act
      const error = await readError(client, 3);

      // Assess
      expect(error.code).toBe('stocks_api_unavailable');
      expect(error.message).toBe(`stocks page 3 failed after 1 attempt(s): HTTP ${code}: "no"`);
      expect(http.requests).toHaveLength(1);
      expect(tokens.rejected).toEqual([]);
      expect(waits).toEqual([]);
    });

    it('retries when the connection fails before any reply', async () => {
      // Prepare
      const { client, http, waits, log } = setup({ replies: [connectionReset(), page(1)] });

      // Act
      const read = await client.readPage(1);

      // Assess
      expect(read.page.number).toBe(1);
      expect(http.requests).toHaveLength(2);
      expect(waits).toHaveLength(1);
      expect(log.entries[0]?.fields).toEqual([
        { page: 1, attempt: 1, reason: 'transport failure ECONNRESET' },
      ]);
    });

    it('names a timed-out request when every attempt times out', async () => {
      // Prepare
      const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
      const { client } = setup({ replies: [timeout, timeout], maxAttempts: 2 });

      // Act
      const error = await readError(client);

      // Assess
      expect(error.code).toBe('stocks_api_unavailable');
      expect(error.message).toBe('stocks page 1 failed after 2 attempt(s): request timed out');
    });

    it('keeps the token out of errors and logs when a failing reply echoes it', async () => {
      // Prepare
      const echo = `{"error":"backend rejected Authorization: Bearer ${FIRST_TOKEN}"}`;
      const { client, log } = setup({
        replies: [status(500, echo), status(502, echo), status(503, echo)],
      });

      // Act
      const error = await readError(client);

      // Assess
      expect(error.message).toContain('[redacted]');
      expect(error.message).not.toContain(FIRST_TOKEN);
      expect(log.text()).not.toContain(FIRST_TOKEN);
      expect(log.text()).toContain('[redacted]');
    });

    it('keeps the token out of errors after a refresh', async () => {
      // Prepare
      const echo = `token ${FRESH_TOKEN} is not allowed here`;
      const { client, log } = setup({ replies: [status(401), status(403, echo)] });

      // Act
      const error = await readError(client);

      // Assess
      expect(error.code).toBe('stocks_api_unavailable');
      expect(error.message).not.toContain(FRESH_TOKEN);
      expect(log.text()).not.toContain(FRESH_TOKEN);
      expect(log.text()).not.toContain(FIRST_TOKEN);
    });

    // The body preview is cut to its window before the token is masked, so a
    // token that straddles the window's edge leaves its first characters in.
    it('keeps every part of the token out of errors when it sits at the preview edge', async () => {
      // Prepare
      const echo = `${' '.repeat(230)}${FIRST_TOKEN}`;
      const { client, log } = setup({ replies: [status(400, echo)] });

      // Act
      const error = await readError(client);

      // Assess
      const prefix = FIRST_TOKEN.slice(0, 8);
      expect(error.message).not.toContain(prefix);
      expect(log.text()).not.toContain(prefix);
    });
  });
});
