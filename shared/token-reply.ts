/**
 * Classifies a token endpoint reply before trusting any of it. Real servers
 * and the proxies in front of them answer in ways RFC 6749 does not list, so
 * status, headers and the body's actual content decide together whether a
 * reply is a token (§5.1), a refusal (§5.2), a rate limit, a transient fault
 * or a malformed answer. The body is parsed as JSON by its content, never by
 * its Content-Type, and is never logged whole.
 *
 * Hand-written rather than delegated to an OAuth client library because the
 * lenient parts (string `expires_in`, any-case `token_type`, refusals sent
 * with status 200) are exactly where such libraries are strict by design.
 */
import { BrokerError, type BrokerErrorCode } from './errors.js';
import { bodyPreview, redactSecrets } from './redact.js';
import type { TokenGrant } from './token-grant.js';

/** What the transport saw: status, headers and the body it read. */
export interface RawTokenReply {
  status: number;
  headers: Headers;
  body: string;
}

export interface ReplyContext {
  /** When the request was sent, epoch ms: expiry counts from here (§5.1). */
  sentAtMs: number;
  /** When the reply arrived, epoch ms: an HTTP-date `Retry-After` counts from here. */
  receivedAtMs: number;
  /** Scope requested, used when the reply omits `scope`. */
  requestedScope: string;
  /** Lifetime assumed when `expires_in` is absent or null. */
  defaultLifetimeSecs: number;
  /** Longest lifetime believed; larger claims are capped to it. */
  maxLifetimeSecs: number;
  /** Values that must never appear in an error message (the client secret). */
  secrets: readonly string[];
}

export type TokenReplyOutcome =
  | { kind: 'token'; grant: TokenGrant }
  | { kind: 'refused'; error: BrokerError }
  | { kind: 'retry'; reason: string; status: number; retryAfterMs?: number };

/** RFC 6749 §5.2 error codes, and the few a token server may add. */
const OAUTH_ERROR_CODES: Record<string, BrokerErrorCode> = {
  invalid_request: 'invalid_request',
  invalid_client: 'invalid_client',
  invalid_grant: 'invalid_grant',
  unauthorized_client: 'unauthorized_client',
  unsupported_grant_type: 'unsupported_grant_type',
  invalid_scope: 'invalid_scope',
  access_denied: 'access_denied',
};

/** Codes that mean "try later" rather than "you are refused". */
const TRANSIENT_OAUTH_ERRORS = new Set(['temporarily_unavailable', 'server_error', 'slow_down']);

/** Statuses that say the token URL itself is wrong; retrying cannot help. */
const WRONG_ENDPOINT_STATUSES = new Set([404, 405, 410, 501]);

const DESCRIPTION_MAX_CHARS = 200;

/** RFC 6750 §2.1 sends the token in a header: visible ASCII only, no spaces. */
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

export function classifyTokenReply(reply: RawTokenReply, context: ReplyContext): TokenReplyOutcome {
  const json = parseJsonObject(reply.body);

  if (json && typeof json.error === 'string') return oauthError(json, reply, context);
  if (reply.status === 429 || reply.status === 503)
    return retry(reply, 'rate limited or unavailable', context.receivedAtMs);
  if (reply.status >= 500) return retry(reply, 'server error', context.receivedAtMs);
  if (reply.status >= 300 && reply.status < 400) return wrongEndpoint(reply, 'redirected');
  if (WRONG_ENDPOINT_STATUSES.has(reply.status)) return wrongEndpoint(reply, 'not found');
  if (reply.status === 401) return refusedCredentials(reply);
  if (reply.status !== 200 && reply.status !== 201) {
    return retry(reply, `unexpected status, ${describeBody(reply, context)}`, context.receivedAtMs);
  }
  if (!json)
    return retry(
      reply,
      `reply is not a JSON object, ${describeBody(reply, context)}`,
      context.receivedAtMs,
    );
  return tokenFrom(json, context);
}

function oauthError(
  json: Record<string, unknown>,
  reply: RawTokenReply,
  context: ReplyContext,
): TokenReplyOutcome {
  const code = errorCode(json.error, context.secrets);
  if (TRANSIENT_OAUTH_ERRORS.has(code) || reply.status === 429 || reply.status >= 500) {
    return retry(reply, `token endpoint said ${code}`, context.receivedAtMs);
  }
  const description =
    typeof json.error_description === 'string'
      ? cleanText(redactSecrets(json.error_description, context.secrets), DESCRIPTION_MAX_CHARS)
      : '';
  const mapped = Object.hasOwn(OAUTH_ERROR_CODES, code)
    ? (OAUTH_ERROR_CODES[code] as BrokerErrorCode)
    : 'token_request_refused';
  const message =
    `token endpoint refused the request: ${code} (HTTP ${reply.status})` +
    (description ? `: ${description}` : '');
  return { kind: 'refused', error: new BrokerError(mapped, message) };
}

/**
 * The `error` code, if it looks like one (RFC 6749 §5.2 allows printable
 * ASCII only); anything else is replaced, since a server could echo any
 * request field there.
 */
function errorCode(value: unknown, secrets: readonly string[]): string {
  if (typeof value !== 'string' || !/^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(value)) {
    return 'non_standard_error';
  }
  return redactSecrets(value, secrets) === value ? value : 'non_standard_error';
}

function refusedCredentials(reply: RawTokenReply): TokenReplyOutcome {
  const scheme = (reply.headers.get('www-authenticate') ?? '').split(/\s/)[0] ?? '';
  const message =
    `token endpoint refused the client credentials (HTTP 401` +
    (scheme ? `, WWW-Authenticate ${cleanText(scheme, 20)})` : ')');
  return { kind: 'refused', error: new BrokerError('invalid_client', message) };
}

function wrongEndpoint(reply: RawTokenReply, what: string): TokenReplyOutcome {
  const message = `token endpoint ${what} (HTTP ${reply.status}); check the profile's token_url`;
  return {
    kind: 'refused',
    error: new BrokerError('token_endpoint_unavailable', message, { retryable: false }),
  };
}

function retry(reply: RawTokenReply, reason: string, nowMs: number): TokenReplyOutcome {
  const retryAfterMs = parseRetryAfter(reply.headers.get('retry-after'), nowMs);
  return {
    kind: 'retry',
    reason,
    status: reply.status,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  };
}

function tokenFrom(json: Record<string, unknown>, context: ReplyContext): TokenReplyOutcome {
  const accessToken = json.access_token;
  if (typeof accessToken !== 'string' || accessToken.length === 0) {
    return invalidReply('access_token', 'is missing or empty');
  }
  if (!VISIBLE_ASCII.test(accessToken)) {
    return invalidReply('access_token', 'holds characters a bearer header cannot carry');
  }
  if (typeof json.token_type !== 'string' || json.token_type.toLowerCase() !== 'bearer') {
    return invalidReply('token_type', 'is not Bearer');
  }
  const lifetime = lifetimeSecs(json.expires_in, context);
  if (typeof lifetime === 'string') return invalidReply('expires_in', lifetime);

  const scope = typeof json.scope === 'string' && json.scope.trim() ? json.scope.trim() : undefined;
  return {
    kind: 'token',
    grant: {
      accessToken,
      tokenType: 'Bearer',
      lifetimeSecs: lifetime,
      // Counted from when the request was sent, which is no later than the
      // server's own clock started it; to the millisecond, as short-lived
      // tokens would lose a noticeable share of their life to whole seconds.
      expiresAt: (context.sentAtMs + lifetime * 1000) / 1000,
      scope: scope ?? context.requestedScope,
    },
  };
}

/**
 * `expires_in` as a lifetime in seconds, or a reason it is unusable. A number
 * or a digits-only string is accepted; absent or null means the configured
 * default; zero and negative values are refused rather than read as
 * "never expires"; values above the maximum are capped.
 */
export function lifetimeSecs(value: unknown, context: ReplyContext): number | string {
  if (value === undefined || value === null) return context.defaultLifetimeSecs;

  let seconds: number;
  if (typeof value === 'number') {
    seconds = value;
  } else if (typeof value === 'string' && /^\d{1,12}$/.test(value.trim())) {
    seconds = Number(value.trim());
  } else {
    return 'must be a number of seconds';
  }
  if (!Number.isFinite(seconds)) return 'must be a finite number of seconds';
  if (seconds < 1) return 'must be a positive number of seconds';
  return Math.min(Math.floor(seconds), context.maxLifetimeSecs);
}

function invalidReply(field: string, reason: string): TokenReplyOutcome {
  return {
    kind: 'refused',
    error: new BrokerError('invalid_token_reply', `token reply field ${field} ${reason}`),
  };
}

/**
 * `Retry-After` as a delay in ms (RFC 9110 §10.2.3): digits are seconds,
 * anything else must be an HTTP date. Unparseable values give undefined; the
 * caller bounds what it is willing to wait.
 */
export function parseRetryAfter(header: string | null, nowMs = Date.now()): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d{1,10}$/.test(value)) return Number(value) * 1000;
  if (!/[A-Za-z]/.test(value)) return undefined;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

function parseJsonObject(body: string): Record<string, unknown> | undefined {
  if (!body.trimStart().startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function describeBody(reply: RawTokenReply, context: ReplyContext): string {
  const type = cleanText(reply.headers.get('content-type') ?? 'no content type', 40);
  return `${type}: "${bodyPreview(reply.body, context.secrets)}"`;
}

/** Single-line, printable, bounded text for messages. */
function cleanText(text: string, maxChars: number): string {
  return text
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .trim()
    .slice(0, maxChars);
}
