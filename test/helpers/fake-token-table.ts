/**
 * An in-memory stand-in for `TokenTable` with the same public methods and the
 * same conditions, written from the conditional expressions in
 * `shared/token-table.ts`. Every call is counted, and any method can be made
 * to throw, as DynamoDB would during an outage. Use it typed as `TokenTable`
 * through `asTokenTable()`.
 */
import type {
  CachedToken,
  LeaseRelease,
  LeaseRequest,
  TokenItem,
  TokenTable,
  WriteOutcome,
} from '../../shared/token-table.js';

export type TokenTableMethod =
  'get' | 'acquireLease' | 'writeToken' | 'releaseLease' | 'invalidate';

/**
 * One stored item, attribute by attribute; an attribute DynamoDB would not
 * hold is `undefined`, so that conditions read it as the real table does.
 */
interface StoredItem {
  token?: CachedToken;
  version?: number;
  leaseId?: string;
  leaseExpiresAtMs?: number;
  cooldownUntilMs?: number;
  failures?: number;
  /** Epoch seconds, as the `ttl` attribute. */
  ttl?: number;
}

export class FakeTokenTable {
  readonly calls: Record<TokenTableMethod, number> = {
    get: 0,
    acquireLease: 0,
    writeToken: 0,
    releaseLease: 0,
    invalidate: 0,
  };
  private readonly items = new Map<string, StoredItem>();
  private readonly failures = new Map<TokenTableMethod, () => Error>();

  /** Makes every later call of `method` throw what `error` returns, until `recover`. */
  failWith(method: TokenTableMethod, error: () => Error = outage): void {
    this.failures.set(method, error);
  }

  /** Makes every method throw, as a table that cannot be reached. */
  failAll(error: () => Error = outage): void {
    for (const method of Object.keys(this.calls) as TokenTableMethod[]) {
      this.failWith(method, error);
    }
  }

  recover(): void {
    this.failures.clear();
  }

  /** The fake, typed as the class it stands in for. */
  asTokenTable(): TokenTable {
    return this as unknown as TokenTable;
  }

  /** The `ttl` attribute of an item, epoch seconds. */
  ttlOf(cacheKey: string): number | undefined {
    return this.items.get(cacheKey)?.ttl;
  }

  /** Stores a token as if a lease holder had written it; for arranging a test. */
  seed(token: CachedToken, extra: Omit<StoredItem, 'token'> = {}): void {
    const existing = this.items.get(token.cacheKey);
    this.items.set(token.cacheKey, {
      version: (existing?.version ?? 0) + 1,
      ttl: token.expiresAt,
      ...extra,
      token: { ...token },
    });
  }

  /** The item under `cacheKey` (always a consistent read here). */
  async get(cacheKey: string): Promise<TokenItem> {
    await this.enter('get');
    const stored = this.items.get(cacheKey);
    const item: TokenItem = { version: stored?.version ?? 0, failures: stored?.failures ?? 0 };
    if (!stored) return item;
    if (stored.token) item.token = { ...stored.token };
    if (stored.leaseId !== undefined && stored.leaseExpiresAtMs !== undefined) {
      item.lease = { id: stored.leaseId, expiresAtMs: stored.leaseExpiresAtMs };
    }
    if (stored.cooldownUntilMs !== undefined) item.cooldownUntilMs = stored.cooldownUntilMs;
    return item;
  }

  /** Taken when no lease is live, no cooldown runs and, if given, the version matches. */
  async acquireLease(cacheKey: string, request: LeaseRequest): Promise<boolean> {
    await this.enter('acquireLease');
    const stored = this.items.get(cacheKey) ?? {};
    const leaseFree =
      stored.leaseExpiresAtMs === undefined || stored.leaseExpiresAtMs <= request.nowMs;
    const notCooling =
      stored.cooldownUntilMs === undefined || stored.cooldownUntilMs <= request.nowMs;
    // Version 0 is how an item without the attribute reads.
    const versionHolds = request.version === undefined || (stored.version ?? 0) === request.version;
    if (!leaseFree || !notCooling || !versionHolds) return false;

    const leaseEndMs = request.nowMs + request.leaseMs;
    this.items.set(cacheKey, {
      ...stored,
      leaseId: request.leaseId,
      leaseExpiresAtMs: leaseEndMs,
      ttl: request.ttlSecs ?? Math.ceil(leaseEndMs / 1000),
    });
    return true;
  }

  /**
   * Stored unless someone else holds a live lease or a token that expires no
   * earlier is already there; clears the lease, cooldown and failures.
   */
  async writeToken(token: CachedToken, leaseId: string, nowMs: number): Promise<WriteOutcome> {
    await this.enter('writeToken');
    const stored = this.items.get(token.cacheKey) ?? {};
    const leaseAllows =
      stored.leaseId === undefined ||
      stored.leaseId === leaseId ||
      (stored.leaseExpiresAtMs !== undefined && stored.leaseExpiresAtMs <= nowMs);
    const later = stored.token === undefined || stored.token.expiresAt < token.expiresAt;
    if (!leaseAllows || !later) return { stored: false };

    const version = (stored.version ?? 0) + 1;
    this.items.set(token.cacheKey, { token: { ...token }, version, ttl: token.expiresAt });
    return { stored: true, version };
  }

  /** Only the holder may give the lease back; a non-holder's release changes nothing. */
  async releaseLease(cacheKey: string, release: LeaseRelease): Promise<void> {
    await this.enter('releaseLease');
    const stored = this.items.get(cacheKey);
    if (!stored || stored.leaseId !== release.leaseId) return;

    const { leaseId: _id, leaseExpiresAtMs: _until, ...rest } = stored;
    const next: StoredItem = { ...rest };
    if (release.failed) next.failures = (stored.failures ?? 0) + 1;
    if (release.cooldownUntilMs !== undefined) {
      next.cooldownUntilMs = release.cooldownUntilMs;
      next.ttl = release.ttlSecs ?? Math.ceil(release.cooldownUntilMs / 1000);
    }
    this.items.set(cacheKey, next);
  }

  /** Removes the token only if its hash still matches; the version stays. */
  async invalidate(cacheKey: string, hash: string): Promise<boolean> {
    await this.enter('invalidate');
    const stored = this.items.get(cacheKey);
    if (!stored?.token || stored.token.tokenHash !== hash) return false;

    const { token: _token, ...rest } = stored;
    this.items.set(cacheKey, rest);
    return true;
  }

  /** Counts the call, fails it if told to, and yields as a network call would. */
  private async enter(method: TokenTableMethod): Promise<void> {
    this.calls[method]++;
    await Promise.resolve();
    const failure = this.failures.get(method);
    if (failure) throw failure();
  }
}

function outage(): Error {
  const error = new Error('connect ECONNREFUSED (fake token table outage)');
  error.name = 'TimeoutError';
  return error;
}
