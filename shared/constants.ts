/**
 * Defaults of the product, each with its unit in its name. Every value that
 * an operator may change is read through `config.ts`; these are the fallbacks.
 */

/** Reference token endpoint (Farfetch STS); a profile may name any other. */
export const DEFAULT_TOKEN_URL = 'https://authbo.farfetch.net/connect/token';

/** Reference stocks API (Farfetch platform). */
export const DEFAULT_STOCKS_API_URL = 'https://api.farfetch.net';

/** Secrets Manager name prefix under which client profiles live. */
export const DEFAULT_SECRET_PREFIX = 'token-broker/clients/';

/** Client profile the stock sync asks the broker for. */
export const DEFAULT_STOCK_SYNC_CLIENT = 'farfetch';

/** How long a client profile read from Secrets Manager is kept in memory. */
export const SECRET_CACHE_TTL_SECS = 300;

/** The expiry buffer is min(this, EXPIRY_BUFFER_RATIO × lifetime). */
export const EXPIRY_BUFFER_MAX_SECS = 60;
export const EXPIRY_BUFFER_RATIO = 0.1;

/**
 * Lifetime assumed when a token reply omits `expires_in` (RFC 6749 §5.1
 * makes it only RECOMMENDED). Short on purpose: an unknown lifetime is
 * refreshed early rather than served past its real end.
 */
export const DEFAULT_TOKEN_LIFETIME_SECS = 300;

/** Upper bound on any lifetime a token server claims (one day). */
export const MAX_TOKEN_LIFETIME_SECS = 86_400;

/** Per-request timeout of one token endpoint call. */
export const TOKEN_REQUEST_TIMEOUT_MS = 5_000;

/** Largest token endpoint reply body that is read. */
export const TOKEN_REPLY_MAX_BYTES = 64 * 1024;

/** Stocks API page size requested by the sync. */
export const STOCKS_PAGE_SIZE = 500;

/** Per-request timeout of one stocks API page. */
export const STOCKS_REQUEST_TIMEOUT_MS = 15_000;

/** Largest stocks API page body read (a 1,000-entry page is about 200 KiB). */
export const STOCKS_PAGE_MAX_BYTES = 8 * 1024 * 1024;

/** Attempts for one stocks API page on a transient failure (5xx, reset). */
export const STOCKS_PAGE_MAX_ATTEMPTS = 3;

/** DynamoDB `BatchWriteItem` takes at most this many requests. */
export const BATCH_WRITE_MAX_ITEMS = 25;

/** Batches written in parallel by the sync. */
export const BATCH_WRITE_CONCURRENCY = 8;

/** Rounds of `UnprocessedItems` retry before a batch fails the run. */
export const BATCH_WRITE_MAX_ATTEMPTS = 8;

/** First backoff before an `UnprocessedItems` retry; doubled each round. */
export const BATCH_WRITE_BASE_DELAY_MS = 50;

/** Ceiling of one `UnprocessedItems` backoff. */
export const BATCH_WRITE_MAX_DELAY_MS = 2_000;

/** How long a sync run summary item lives in its table (90 days). */
export const SYNC_RUN_RETENTION_SECS = 90 * 86_400;

/** Length, in hex characters, of the short hash that identifies a token. */
export const TOKEN_HASH_HEX_CHARS = 12;

/**
 * How long a lease lets one environment fetch while the others wait: longer
 * than a token request's 8 s deadline, so a live holder never loses it.
 */
export const LEASE_DURATION_MS = 9_000;

/**
 * Longest a request waits for another environment's fetch: past one lease,
 * so a waiter can take over from a holder that died. With a fetch of its own
 * after that, a request stays within the broker's 20 s timeout.
 */
export const LEASE_WAIT_DEADLINE_MS = 10_000;

/** First poll while waiting on a lease; grows 1.5× per poll, with jitter. */
export const LEASE_POLL_BASE_MS = 50;

/** Longest pause between two polls while waiting on a lease. */
export const LEASE_POLL_MAX_MS = 500;

/**
 * How long before its expiry buffer begins a token is renewed ahead:
 * min(REFRESH_AHEAD_MAX_SECS, REFRESH_AHEAD_RATIO × lifetime). Late, so the
 * fleet asks about once per lifetime (2,400 s tokens: renewed 120 s before
 * the buffer, 1.08 requests per lifetime), yet early enough for several
 * tries, each far shorter than that, before any caller has to wait.
 */
export const REFRESH_AHEAD_RATIO = 0.05;
export const REFRESH_AHEAD_MAX_SECS = 300;

/** Consecutive failed fetches after which the whole fleet backs off. */
export const COOLDOWN_AFTER_FAILURES = 3;

/** First fleet-wide backoff after repeated failures; doubled per failure. */
export const COOLDOWN_BASE_MS = 1_000;

/** Ceiling of any fleet-wide backoff, `Retry-After` included. */
export const COOLDOWN_MAX_MS = 5 * 60_000;

/** Largest random delay before a scheduled warm-up refreshes, spreading them out. */
export const WARM_UP_JITTER_MS = 3_000;
