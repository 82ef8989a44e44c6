/**
 * Reads pages of `GET {base}/stocks` with a bearer token (RFC 6750). A 401
 * makes it report the refused token and ask for a fresh one once per page;
 * server errors, rate limits and dropped connections are retried a few times
 * with backoff; anything else fails the page with a typed error.
 */
import { readBounded, transportFailure } from '../http.js';
import { realSleep, type Sleep } from '../clock.js';
import {
  STOCKS_PAGE_MAX_ATTEMPTS,
  STOCKS_PAGE_MAX_BYTES,
  STOCKS_REQUEST_TIMEOUT_MS,
} from '../constants.js';
import { StockSyncError } from '../errors.js';
import type { Log } from '../logger.js';
import { bodyPreview } from '../redact.js';
import { parseRetryAfter } from '../token-reply.js';
import type { CallerToken } from '../broker-client.js';
import { parseStocksPage, type StocksPage } from './stocks-page.js';

/** Source of bearer tokens: the broker client in production. */
export interface TokenProvider {
  getToken(): Promise<CallerToken>;
  replaceRejected(accessToken: string): Promise<CallerToken>;
}

export interface StocksApiClientOptions {
  baseUrl: string;
  pageSize: number;
  tokens: TokenProvider;
  log: Log;
  fetch?: typeof fetch;
  sleep?: Sleep;
  /** Attempts per page for transient failures; default 3. */
  maxAttempts?: number;
  /** Longest wait honoured from `Retry-After` or backoff; default 5 s. */
  maxDelayMs?: number;
}

export interface PageRead {
  page: StocksPage;
  /** True when a 401 made this read replace its token. */
  tokenReplaced: boolean;
}

const BASE_DELAY_MS = 250;
const DEFAULT_MAX_DELAY_MS = 5_000;

export class StocksApiClient {
  private readonly fetch: typeof fetch;
  private readonly sleep: Sleep;

  constructor(private readonly options: StocksApiClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
    this.sleep = options.sleep ?? realSleep;
  }

  async readPage(pageNumber: number): Promise<PageRead> {
    let token = (await this.options.tokens.getToken()).accessToken;
    let tokenReplaced = false;
    const maxAttempts = this.options.maxAttempts ?? STOCKS_PAGE_MAX_ATTEMPTS;

    for (let attempt = 1; ; attempt++) {
      const outcome = await this.get(pageNumber, token);
      if (outcome.kind === 'ok') {
        return {
          page: parseStocksPage(outcome.body, pageNumber, this.options.pageSize),
          tokenReplaced,
        };
      }
      if (outcome.kind === 'unauthorized') {
        if (tokenReplaced) {
          throw new StockSyncError(
            'stocks_api_unauthorized',
            `stocks API refused a fresh token for page ${pageNumber} (HTTP 401)`,
          );
        }
        this.options.log.warn('stocks API refused the token, asking for a fresh one', {
          page: pageNumber,
        });
        token = (await this.options.tokens.replaceRejected(token)).accessToken;
        tokenReplaced = true;
        attempt--;
        continue;
      }
      if (outcome.kind === 'failed' || attempt >= maxAttempts) {
        throw new StockSyncError(
          'stocks_api_unavailable',
          `stocks page ${pageNumber} failed after ${attempt} attempt(s): ${outcome.reason}`,
        );
      }
      this.options.log.warn('stocks page failed, retrying', {
        page: pageNumber,
        attempt,
        reason: outcome.reason,
      });
      await this.sleep(this.delayMs(attempt, outcome.retryAfterMs));
    }
  }

  private async get(pageNumber: number, token: string): Promise<GetOutcome> {
    const url = new URL(`${this.options.baseUrl}/stocks`);
    url.searchParams.set('page', String(pageNumber));
    url.searchParams.set('pageSize', String(this.options.pageSize));
    let response: Response;
    let body: string;
    try {
      response = await this.fetch(url, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(STOCKS_REQUEST_TIMEOUT_MS),
      });
      body = await readBounded(response, STOCKS_PAGE_MAX_BYTES);
    } catch (error) {
      return { kind: 'retry', reason: transportFailure(error) };
    }
    return classify(response, body, token);
  }

  private delayMs(attempt: number, retryAfterMs?: number): number {
    const max = this.options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    const backoff = BASE_DELAY_MS * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
    return Math.min(max, retryAfterMs ?? backoff);
  }
}

type GetOutcome =
  | { kind: 'ok'; body: string }
  | { kind: 'unauthorized' }
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  | { kind: 'failed'; reason: string };

function classify(response: Response, body: string, token: string): GetOutcome {
  const status = response.status;
  if (status === 200) return { kind: 'ok', body };
  if (status === 401) return { kind: 'unauthorized' };
  const reason = `HTTP ${status}: "${bodyPreview(body, [token])}"`;
  if (status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    return retryAfterMs === undefined
      ? { kind: 'retry', reason }
      : { kind: 'retry', reason, retryAfterMs };
  }
  return { kind: 'failed', reason };
}
