/**
 * Client of a token endpoint for the client credentials grant (RFC 6749 §4.4).
 * It sends one form-encoded request per attempt, authenticates the client one
 * way only (§2.3.1), reads a bounded reply without following redirects, and
 * retries transient failures with jittered exponential backoff inside a total
 * deadline that stays below the function's own timeout.
 */
import { readBounded, transportFailure } from './http.js';
import type { ClientProfile } from './client-profile.js';
import { isAllowedTokenUrl } from './client-profile.js';
import { clientCredentials, credentialForms } from './client-auth.js';
import { epochSecs, realSleep, systemClock, type Clock, type Sleep } from './clock.js';
import {
  DEFAULT_TOKEN_LIFETIME_SECS,
  MAX_TOKEN_LIFETIME_SECS,
  TOKEN_REPLY_MAX_BYTES,
  TOKEN_REQUEST_TIMEOUT_MS,
} from './constants.js';
import { BrokerError } from './errors.js';
import type { Log } from './logger.js';
import { classifyTokenReply, type RawTokenReply } from './token-reply.js';
import type { TokenGrant } from './token-grant.js';

export interface TokenEndpointOptions {
  /** Per-attempt timeout; default 5 s. */
  requestTimeoutMs?: number;
  /** Total time all attempts may take; default 8 s (inside the broker's 9 s lease). */
  deadlineMs?: number;
  /** Attempts for transient failures; default 3. */
  maxAttempts?: number;
  /** First backoff; doubled each attempt, with full jitter; default 200 ms. */
  baseDelayMs?: number;
  /** Lifetime assumed when a reply omits `expires_in`; default 300 s. */
  defaultLifetimeSecs?: number;
  /** Cap on a claimed lifetime; default one day. */
  maxLifetimeSecs?: number;
  /** Largest reply body read; default 64 KiB. */
  maxReplyBytes?: number;
  fetch?: typeof fetch;
  clock?: Clock;
  sleep?: Sleep;
  random?: () => number;
  log: Log;
}

export const TOKEN_DEADLINE_MS = 8_000;
const DEFAULT_MAX_ATTEMPTS = 3;
const DEFAULT_BASE_DELAY_MS = 200;

/** An attempt is not started with less time than this left before the deadline. */
const MIN_ATTEMPT_MS = 500;

export class TokenEndpointClient {
  private readonly fetch: typeof fetch;
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private readonly random: () => number;

  constructor(private readonly options: TokenEndpointOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
    this.clock = options.clock ?? systemClock;
    this.sleep = options.sleep ?? realSleep;
    this.random = options.random ?? Math.random;
  }

  /**
   * Requests a token for `scopes` (none: the server's default scope), within
   * `deadlineMs` from now or by `deadlineAtMs` when the caller shares one
   * deadline across several requests.
   */
  async requestToken(
    profile: ClientProfile,
    scopes: readonly string[],
    { deadlineAtMs }: { deadlineAtMs?: number } = {},
  ): Promise<TokenGrant> {
    assertTokenUrl(profile.tokenUrl);
    const deadline = deadlineAtMs ?? this.clock() + (this.options.deadlineMs ?? TOKEN_DEADLINE_MS);
    const maxAttempts = this.options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;

    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(profile, scopes, deadline);
      if (outcome.kind === 'token') return outcome.grant;
      if (outcome.kind === 'refused') throw outcome.error;

      const waitMs = outcome.retryAfterMs ?? this.backoffMs(attempt);
      const lastAttempt =
        attempt >= maxAttempts || this.clock() + waitMs + MIN_ATTEMPT_MS >= deadline;
      this.options.log.warn('token request failed', {
        tokenUrl: profile.tokenUrl,
        clientId: profile.clientId,
        status: outcome.status,
        reason: outcome.reason,
        attempt,
        willRetry: !lastAttempt,
      });
      if (lastAttempt)
        throw unavailable(profile, outcome.reason, outcome.status, outcome.retryAfterMs);
      await this.sleep(waitMs);
    }
  }

  private async attempt(profile: ClientProfile, scopes: readonly string[], deadline: number) {
    const requestedScope = scopes.join(' ');
    const sentAtMs = this.clock();
    // Built outside the try: a profile that cannot sign is refused, not retried.
    const request = await tokenRequest(profile, requestedScope, epochSecs(sentAtMs));
    const timeoutMs = Math.min(
      this.options.requestTimeoutMs ?? TOKEN_REQUEST_TIMEOUT_MS,
      Math.max(MIN_ATTEMPT_MS, deadline - sentAtMs),
    );
    let reply: RawTokenReply;
    try {
      reply = await this.post(profile.tokenUrl, request, timeoutMs);
    } catch (error) {
      return { kind: 'retry' as const, reason: transportFailure(error), status: 0 };
    }
    return classifyTokenReply(reply, {
      sentAtMs,
      receivedAtMs: this.clock(),
      requestedScope,
      defaultLifetimeSecs: this.options.defaultLifetimeSecs ?? DEFAULT_TOKEN_LIFETIME_SECS,
      maxLifetimeSecs: this.options.maxLifetimeSecs ?? MAX_TOKEN_LIFETIME_SECS,
      secrets: credentialForms(profile),
    });
  }

  private async post(
    tokenUrl: string,
    request: { body: string; headers: Record<string, string> },
    timeoutMs: number,
  ): Promise<RawTokenReply> {
    const response = await this.fetch(tokenUrl, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      // One signal for the reply and its body, so a trickling body cannot outlast it.
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await readBounded(response, this.options.maxReplyBytes ?? TOKEN_REPLY_MAX_BYTES);
    return { status: response.status, headers: response.headers, body: text };
  }

  private backoffMs(attempt: number): number {
    const base = this.options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
    return Math.round(this.random() * base * 2 ** (attempt - 1));
  }
}

/**
 * The form body and headers of a client credentials request (RFC 6749 §4.4.2),
 * authenticated one way only (see `client-auth.ts`).
 */
export async function tokenRequest(
  profile: ClientProfile,
  scope: string,
  nowSecs: number,
): Promise<{ body: string; headers: Record<string, string> }> {
  const credentials = await clientCredentials(profile, nowSecs);
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (scope) form.set('scope', scope);
  if (profile.audience) form.set('audience', profile.audience);
  if (profile.resource) form.set('resource', profile.resource);
  for (const [name, value] of Object.entries(credentials.form)) form.set(name, value);

  return {
    body: form.toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      ...credentials.headers,
    },
  };
}

function assertTokenUrl(tokenUrl: string): void {
  if (!isAllowedTokenUrl(new URL(tokenUrl))) {
    throw new BrokerError('invalid_profile', 'token_url must use https (http only on loopback)');
  }
}

function unavailable(
  profile: ClientProfile,
  reason: string,
  status: number,
  retryAfterMs?: number,
): BrokerError {
  const statusText = status ? `HTTP ${status}, ` : '';
  const retryAfterSecs = retryAfterMs === undefined ? undefined : Math.ceil(retryAfterMs / 1000);
  const after = retryAfterSecs === undefined ? '' : `, retry after ${retryAfterSecs} s`;
  return new BrokerError(
    'token_endpoint_unavailable',
    `token endpoint ${new URL(profile.tokenUrl).host} unavailable (${statusText}${reason}${after})`,
    { retryable: true, ...(retryAfterSecs === undefined ? {} : { retryAfterSecs }) },
  );
}
