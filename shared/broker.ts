/**
 * The token broker's core: serve a valid token for a client profile and a set
 * of scopes with one token request per token lifetime for the whole fleet.
 *
 * Tiers, in order: this environment's memory, the shared DynamoDB item, the
 * token endpoint. Inside one environment concurrent requests for a key share
 * one lookup (single flight); across environments a lease on the item lets
 * one fetch while the others poll. A token near the end of its servable life
 * is still served at once while one environment renews it in the background.
 * Failures are never cached; a cache that fails is a miss, not an outage; a
 * refresh that fails never evicts a token that is still valid.
 * `docs/fleet-cache.md` describes the item's states and why this is safe.
 */
import { randomUUID } from 'node:crypto';
import { tokenCacheKey } from './cache-key.js';
import type { ClientProfileStore, ProfileLookup } from './client-profile-store.js';
import { epochSecs, realSleep, systemClock, type Clock, type Sleep } from './clock.js';
import {
  COOLDOWN_AFTER_FAILURES,
  COOLDOWN_BASE_MS,
  COOLDOWN_MAX_MS,
  LEASE_DURATION_MS,
  LEASE_POLL_BASE_MS,
  LEASE_POLL_MAX_MS,
  LEASE_WAIT_DEADLINE_MS,
  REFRESH_AHEAD_MAX_SECS,
  REFRESH_AHEAD_RATIO,
} from './constants.js';
import { BrokerError, errorName } from './errors.js';
import { TOKEN_DEADLINE_MS } from './token-endpoint.js';
import {
  expiryBufferSecs,
  isServable,
  refreshDueAtMs,
  servedUntilMs,
  type RefreshAhead,
} from './expiry.js';
import type { Log } from './logger.js';
import { noMetrics, type BrokerMetrics } from './metrics.js';
import { tokenHash } from './redact.js';
import { normalizeScopes } from './scopes.js';
import { SingleFlight } from './single-flight.js';
import type { BrokerRequest, BrokerTokenReply, TokenSource } from './broker-request.js';
import type { TokenEndpointClient } from './token-endpoint.js';
import type { CachedToken, LeaseRequest, TokenItem, TokenTable } from './token-table.js';

export interface TokenBrokerOptions {
  /** How long a lease lets one environment fetch; default 9 s. */
  leaseMs?: number;
  /** Longest a request waits on another environment's fetch; default 10 s. */
  leaseWaitMs?: number;
  /**
   * Share of the lifetime by which a token is renewed ahead of its expiry
   * buffer; default 0.05. 0 turns renewal ahead off.
   */
  refreshAheadRatio?: number;
  /** Cap on that lead, in seconds; default 300. */
  refreshAheadMaxSecs?: number;
}

export interface TokenBrokerDeps {
  profiles: ClientProfileStore;
  tokenEndpoint: TokenEndpointClient;
  tokens: TokenTable;
  log: Log;
  metrics?: BrokerMetrics;
  clock?: Clock;
  sleep?: Sleep;
  random?: () => number;
  /** Names this environment as a lease owner in logs; default a random id. */
  environmentId?: string;
  options?: TokenBrokerOptions;
}

/**
 * What a scheduled refresh did for one profile: nothing needed, a new token,
 * or nothing because another environment holds the lease or a cooldown runs.
 */
export type RefreshOutcome = 'fresh' | 'refreshed' | 'skipped';

/** Longest a token is served from this environment's memory without reading the shared item. */
const BROKER_MEMORY_MAX_AGE_MS = 60_000;

/** Pause before trying a background refresh again after another environment took it. */
const REFRESH_SKIPPED_PAUSE_MS = 1_000;

/** Pause before trying a background refresh again after it failed. */
const REFRESH_FAILED_PAUSE_MS = 5_000;

/** Refusals after which the secret may have been rotated (RFC 6749 §5.2). */
const CREDENTIAL_REFUSALS = new Set(['invalid_client', 'unauthorized_client']);

/** One lookup: the profile, the scopes asked for and the key they share. */
interface Lookup {
  profileName: string;
  profile: ProfileLookup;
  scopes: string[];
  cacheKey: string;
  /** Hash of a token an API refused; never served again. */
  rejectedHash?: string;
}

export class TokenBroker {
  private readonly memory = new Map<
    string,
    { token: CachedToken; version: number; rememberedAtMs: number }
  >();
  private readonly lookups = new SingleFlight<BrokerTokenReply>();
  private readonly refreshes = new SingleFlight<RefreshOutcome>();
  /** Per key: no background refresh is tried before this instant (epoch ms). */
  private readonly refreshNotBefore = new Map<string, number>();
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly metrics: BrokerMetrics;
  private readonly leaseMs: number;
  private readonly leaseWaitMs: number;
  private readonly refreshAhead: RefreshAhead;

  constructor(private readonly deps: TokenBrokerDeps) {
    this.clock = deps.clock ?? systemClock;
    this.sleep = deps.sleep ?? realSleep;
    this.random = deps.random ?? Math.random;
    this.metrics = deps.metrics ?? noMetrics;
    this.leaseMs = deps.options?.leaseMs ?? LEASE_DURATION_MS;
    this.leaseWaitMs = deps.options?.leaseWaitMs ?? LEASE_WAIT_DEADLINE_MS;
    this.refreshAhead = {
      ratio: deps.options?.refreshAheadRatio ?? REFRESH_AHEAD_RATIO,
      maxSecs: deps.options?.refreshAheadMaxSecs ?? REFRESH_AHEAD_MAX_SECS,
    };
  }

  /** A token servable beyond its expiry buffer, from the nearest tier that has one. */
  async getToken(request: BrokerRequest): Promise<BrokerTokenReply> {
    const lookup = await this.lookup(request);
    if (lookup.rejectedHash) await this.forgetRejected(lookup);

    const held = this.memory.get(lookup.cacheKey);
    if (held && this.servable(held.token, lookup) && !this.stale(held.rememberedAtMs)) {
      this.metrics.count('BrokerMemoryHit');
      this.refreshAheadIfDue(lookup, held.token, held.version);
      return reply(held.token, 'broker_memory');
    }
    const flightKey = `${lookup.cacheKey}:${lookup.rejectedHash ?? ''}`;
    return this.lookups.run(flightKey, () => this.fromFleet(lookup));
  }

  /**
   * For the scheduled warm-up: renews the profile's default token now, and
   * waits for it, if it is missing, due for renewal, or would leave service
   * within `withinSecs` (the time until the next scheduled run; default 0).
   */
  async refresh(client: string, options: { withinSecs?: number } = {}): Promise<RefreshOutcome> {
    const lookup = await this.lookup({ client });
    const withinMs = (options.withinSecs ?? 0) * 1000;
    try {
      const item = await this.deps.tokens.get(lookup.cacheKey);
      const token = item.token;
      if (token && this.servable(token, lookup) && !this.renewBeforeNextRun(token, withinMs)) {
        this.remember(token, item.version);
        return 'fresh';
      }
      return await this.refreshUnderLease(lookup, item);
    } catch (error) {
      if (error instanceof BrokerError) throw error;
      // A refresh without the shared table would be a fetch nobody shares.
      throw new BrokerError('cache_unavailable', `token cache unavailable for ${client}`, {
        retryable: true,
        cause: error,
      });
    }
  }

  /** Resolves once background refreshes started so far have settled (tests, shutdown). */
  async settled(): Promise<void> {
    await this.refreshes.settled();
  }

  private async lookup(request: BrokerRequest): Promise<Lookup> {
    const profile = await this.deps.profiles.get(request.client);
    const scopes = normalizeScopes(request.scopes ?? profile.profile.scopes);
    return {
      profileName: request.client,
      profile,
      scopes,
      cacheKey: tokenCacheKey(profile.profile, scopes),
      ...(request.rejectedTokenHash ? { rejectedHash: request.rejectedTokenHash } : {}),
    };
  }

  /** Shared cache, else a lease and a fetch, else a wait on whoever holds the lease. */
  private async fromFleet(lookup: Lookup): Promise<BrokerTokenReply> {
    const startedMs = this.clock();
    const wait = { polls: 0 };
    try {
      return await this.pollFleet(lookup, startedMs + this.leaseWaitMs, wait);
    } finally {
      if (wait.polls > 0) this.metrics.duration('LeaseWaitDuration', this.clock() - startedMs);
    }
  }

  private async pollFleet(
    lookup: Lookup,
    deadline: number,
    wait: { polls: number },
  ): Promise<BrokerTokenReply> {
    for (;;) {
      let item: TokenItem;
      try {
        item = await this.deps.tokens.get(lookup.cacheKey);
      } catch (error) {
        return this.withoutCache(lookup, error);
      }

      if (item.token && this.servable(item.token, lookup)) {
        this.metrics.count('SharedCacheHit');
        this.remember(item.token, item.version);
        this.refreshAheadIfDue(lookup, item.token, item.version);
        return reply(item.token, 'cache');
      }
      if (item.cooldownUntilMs !== undefined && item.cooldownUntilMs > this.clock()) {
        throw this.coolingDown(lookup, item.cooldownUntilMs);
      }
      if (!this.leaseLive(item)) {
        const outcome = await this.tryFetchUnderLease(lookup, item);
        if (outcome) return outcome;
        continue;
      }
      if (this.clock() >= deadline) throw this.waitedTooLong(lookup);
      if (wait.polls === 0) this.metrics.count('LeaseWait');
      await this.sleep(this.pollDelayMs(wait.polls++, item, deadline));
    }
  }

  /** Takes the lease and fetches; undefined if another environment won the race. */
  private async tryFetchUnderLease(
    lookup: Lookup,
    item: TokenItem,
  ): Promise<BrokerTokenReply | undefined> {
    const leaseId = this.newLeaseId();
    let acquired: boolean;
    try {
      // At the version read: a request that reaches DynamoDB after another
      // environment has already stored a token must not start a second fetch.
      acquired = await this.deps.tokens.acquireLease(
        lookup.cacheKey,
        this.leaseRequest(leaseId, item, lookup.profileName),
      );
    } catch (error) {
      return this.withoutCache(lookup, error);
    }
    if (!acquired) return undefined;

    const token = await this.fetchAndStore(lookup, leaseId, item, 'foreground');
    return reply(token, 'token_endpoint');
  }

  /**
   * Refresh ahead in the background: the caller already has a valid token.
   * After a refresh that was skipped or failed, this environment waits a
   * moment before trying again rather than retrying on every request.
   */
  private refreshAheadIfDue(lookup: Lookup, token: CachedToken, version: number): void {
    if (!this.dueForRefresh(token) || this.refreshes.has(lookup.cacheKey)) return;
    if ((this.refreshNotBefore.get(lookup.cacheKey) ?? 0) > this.clock()) return;
    this.metrics.count('RefreshAhead');
    void this.refreshes
      .run(lookup.cacheKey, () => this.refreshUnderLease(lookup, { version, token, failures: 0 }))
      .then((outcome) => {
        if (outcome === 'skipped') this.pauseRefresh(lookup.cacheKey, REFRESH_SKIPPED_PAUSE_MS);
      })
      .catch((error: unknown) => {
        this.pauseRefresh(lookup.cacheKey, REFRESH_FAILED_PAUSE_MS);
        this.deps.log.warn('refresh ahead failed, current token kept', {
          profile: lookup.profileName,
          tokenHash: token.tokenHash,
          errorName: errorName(error),
          code: error instanceof BrokerError ? error.code : undefined,
        });
      });
  }

  /** Refreshes if this environment can take the lease while the item is as it was read. */
  private async refreshUnderLease(lookup: Lookup, item: TokenItem): Promise<RefreshOutcome> {
    const leaseId = this.newLeaseId();
    const acquired = await this.deps.tokens.acquireLease(
      lookup.cacheKey,
      this.leaseRequest(leaseId, item, lookup.profileName),
    );
    if (!acquired) {
      await this.adoptNewer(lookup.cacheKey);
      return 'skipped';
    }
    await this.fetchAndStore(lookup, leaseId, { ...item, failures: 0 }, 'background');
    return 'refreshed';
  }

  /**
   * A lease on the item as read: only at its version, and with a TTL that
   * outlives both the lease and any token the item still holds, so DynamoDB
   * never deletes a live lease or a valid token.
   */
  private leaseRequest(leaseId: string, item: TokenItem, profile: string): LeaseRequest {
    const nowMs = this.clock();
    return {
      leaseId,
      profile,
      nowMs,
      leaseMs: this.leaseMs,
      version: item.version,
      ttlSecs: Math.ceil(Math.max(item.token?.expiresAt ?? 0, (nowMs + this.leaseMs) / 1000)),
    };
  }

  /** After losing a refresh race: take the winner's token, if it is there already. */
  private async adoptNewer(cacheKey: string): Promise<void> {
    const item = await this.deps.tokens.get(cacheKey);
    if (item.token && isServable(item.token, this.clock())) this.remember(item.token, item.version);
  }

  private pauseRefresh(cacheKey: string, pauseMs: number): void {
    const jittered = pauseMs * (0.5 + this.random() / 2);
    this.refreshNotBefore.set(cacheKey, this.clock() + jittered);
  }

  /**
   * Fetches under a lease this environment holds, stores the token and gives
   * the lease back. A failure releases the lease, counts against the fleet
   * and may start a fleet-wide cooldown.
   */
  private async fetchAndStore(
    lookup: Lookup,
    leaseId: string,
    item: TokenItem,
    mode: 'foreground' | 'background',
  ): Promise<CachedToken> {
    let token: CachedToken;
    try {
      token = await this.fetchToken(lookup);
    } catch (error) {
      await this.releaseAfterFailure(lookup, leaseId, error, item, mode);
      throw this.logged(error, lookup.profileName);
    }
    await this.store(token, leaseId);
    this.deps.log.info('token obtained from token endpoint', { ...logFields(token), mode });
    return token;
  }

  /** Degraded mode: DynamoDB failed, so fetch directly (still one fetch per environment). */
  private async withoutCache(lookup: Lookup, error: unknown): Promise<BrokerTokenReply> {
    this.metrics.count('CacheFallback');
    const held = this.memory.get(lookup.cacheKey);
    if (held && this.servable(held.token, lookup)) {
      // Memory past its check-in age is still a valid token: serve it rather
      // than ask the token server again while the table cannot be read.
      this.deps.log.warn('token cache unavailable, serving from memory', {
        profile: lookup.profileName,
        errorName: errorName(error),
      });
      return reply(held.token, 'broker_memory');
    }
    this.deps.log.warn('token cache unavailable, fetching directly', {
      profile: lookup.profileName,
      errorName: errorName(error),
    });
    const token = await this.fetchToken(lookup).catch((fetchError: unknown) => {
      throw this.logged(fetchError, lookup.profileName);
    });
    this.remember(token, 0);
    return reply(token, 'token_endpoint');
  }

  /**
   * Requests a token; on a credential refusal, reads the secret again past the
   * cache and retries once, but only if its version changed (a rotation).
   */
  private async fetchToken(lookup: Lookup): Promise<CachedToken> {
    // One deadline for the first request and the retry after a rotation, so
    // the whole fetch stays inside the lease that covers it.
    const deadlineAtMs = this.clock() + TOKEN_DEADLINE_MS;
    try {
      return await this.requestFromEndpoint(lookup, lookup.profile, deadlineAtMs);
    } catch (error) {
      if (!(error instanceof BrokerError) || !CREDENTIAL_REFUSALS.has(error.code)) throw error;
      const reread = await this.deps.profiles.get(lookup.profileName, { bypassCache: true });
      if (reread.versionId === lookup.profile.versionId) throw error;
      this.deps.log.info('client secret changed, retrying once', { profile: lookup.profileName });
      return this.requestFromEndpoint(lookup, reread, deadlineAtMs);
    }
  }

  private async requestFromEndpoint(
    lookup: Lookup,
    profile: ProfileLookup,
    deadlineAtMs: number,
  ): Promise<CachedToken> {
    const sentAtMs = this.clock();
    this.metrics.count('TokenRequest');
    const grant = await this.deps.tokenEndpoint.requestToken(profile.profile, lookup.scopes, {
      deadlineAtMs,
    });
    this.metrics.duration('TokenRequestDuration', this.clock() - sentAtMs);
    const token: CachedToken = {
      ...grant,
      cacheKey: lookup.cacheKey,
      tokenHash: tokenHash(grant.accessToken),
      issuedAt: epochSecs(sentAtMs),
      clientId: profile.profile.clientId,
      profile: lookup.profileName,
      requestedScope: lookup.scopes.join(' '),
    };
    // A slow reply can bring a token that is already past its buffer.
    if (!isServable(token, this.clock())) {
      throw new BrokerError(
        'invalid_token_reply',
        `token for ${lookup.profileName} expired before it could be served ` +
          `(lifetime ${grant.lifetimeSecs} s)`,
      );
    }
    return token;
  }

  private async store(token: CachedToken, leaseId: string): Promise<void> {
    try {
      const outcome = await this.deps.tokens.writeToken(token, leaseId, this.clock());
      if (!outcome.stored) {
        this.deps.log.debug('a newer token or another lease holder won', logFields(token));
        // The write did not clear our lease; give it back so nobody waits it out.
        await this.deps.tokens.releaseLease(token.cacheKey, { leaseId, failed: false });
      }
      this.remember(token, outcome.stored ? outcome.version : 0);
    } catch (error) {
      this.remember(token, 0);
      this.deps.log.warn('token could not be cached', {
        ...logFields(token),
        errorName: errorName(error),
      });
    }
  }

  private async releaseAfterFailure(
    lookup: Lookup,
    leaseId: string,
    error: unknown,
    item: TokenItem,
    mode: 'foreground' | 'background',
  ): Promise<void> {
    this.metrics.count('TokenRequestFailed');
    const transient = error instanceof BrokerError && error.retryable;
    // A background fetch may have been frozen with its environment; only what
    // the server said (a Retry-After) counts against the fleet then.
    const counts = transient && mode === 'foreground';
    const cooldownUntilMs = this.cooldownAfter(error, counts ? item.failures + 1 : 0);
    try {
      await this.deps.tokens.releaseLease(lookup.cacheKey, {
        leaseId,
        failed: counts,
        ...(cooldownUntilMs === undefined
          ? {}
          : {
              cooldownUntilMs,
              // Outlive the cooldown and any token still held.
              ttlSecs: Math.ceil(Math.max(item.token?.expiresAt ?? 0, cooldownUntilMs / 1000)),
            }),
      });
    } catch (releaseError) {
      this.deps.log.warn('lease could not be released; it lapses by itself', {
        profile: lookup.profileName,
        errorName: errorName(releaseError),
      });
    }
  }

  /**
   * When the fleet should next ask the token server: what a `Retry-After`
   * said, or after repeated failures an exponential, jittered pause; both
   * bounded. Refusals start no cooldown: they are reported, not retried.
   */
  private cooldownAfter(error: unknown, failures: number): number | undefined {
    if (!(error instanceof BrokerError) || !error.retryable) return undefined;
    if (error.retryAfterSecs !== undefined) {
      return this.clock() + Math.min(error.retryAfterSecs * 1000, COOLDOWN_MAX_MS);
    }
    if (failures < COOLDOWN_AFTER_FAILURES) return undefined;
    const ceiling = Math.min(
      COOLDOWN_MAX_MS,
      COOLDOWN_BASE_MS * 2 ** (failures - COOLDOWN_AFTER_FAILURES),
    );
    return this.clock() + Math.round(ceiling * (0.5 + this.random() / 2));
  }

  /** Drops a refused token from memory and, if it is still the one stored, from the table. */
  private async forgetRejected(lookup: Lookup): Promise<void> {
    const hash = lookup.rejectedHash as string;
    if (this.memory.get(lookup.cacheKey)?.token.tokenHash === hash) {
      this.memory.delete(lookup.cacheKey);
    }
    try {
      const evicted = await this.deps.tokens.invalidate(lookup.cacheKey, hash);
      this.deps.log.info('rejected token reported', { tokenHash: hash, evicted });
    } catch (error) {
      this.deps.log.warn('rejected token could not be evicted', {
        tokenHash: hash,
        errorName: errorName(error),
      });
    }
  }

  private servable(token: CachedToken, lookup: Lookup): boolean {
    return token.tokenHash !== lookup.rejectedHash && isServable(token, this.clock());
  }

  private dueForRefresh(token: CachedToken): boolean {
    return this.clock() >= refreshDueAtMs(token, this.refreshAhead);
  }

  /**
   * For a scheduled refresh: due now, or leaving service before the next run
   * `withinMs` from now. The look-ahead counts only when a new token would
   * itself stay in service that long; a token that lives shorter than the
   * schedule's period is left to renewal ahead, or every run would replace
   * it however young it is.
   */
  private renewBeforeNextRun(token: CachedToken, withinMs: number): boolean {
    if (this.dueForRefresh(token)) return true;
    const servedForMs = (token.lifetimeSecs - expiryBufferSecs(token.lifetimeSecs)) * 1000;
    return servedForMs > withinMs && this.clock() + withinMs >= servedUntilMs(token);
  }

  private leaseLive(item: TokenItem): boolean {
    return item.lease !== undefined && item.lease.expiresAtMs > this.clock();
  }

  private remember(token: CachedToken, version: number): void {
    this.memory.set(token.cacheKey, { token, version, rememberedAtMs: this.clock() });
  }

  /**
   * Memory is checked against the shared item at least once a minute, so a
   * token purged from the table (a compromised token, a revoked client)
   * stops being served by warm environments within that minute.
   */
  private stale(rememberedAtMs: number): boolean {
    return this.clock() - rememberedAtMs >= BROKER_MEMORY_MAX_AGE_MS;
  }

  /** Jittered, growing pauses, never past the lease's end or the deadline. */
  private pollDelayMs(poll: number, item: TokenItem, deadline: number): number {
    const ceiling = Math.min(LEASE_POLL_MAX_MS, LEASE_POLL_BASE_MS * 1.5 ** poll);
    const jittered = ceiling * (0.5 + this.random() / 2);
    const untilLeaseEnds = (item.lease?.expiresAtMs ?? 0) - this.clock() + 1;
    return Math.max(1, Math.round(Math.min(jittered, untilLeaseEnds, deadline - this.clock())));
  }

  private newLeaseId(): string {
    return `${this.deps.environmentId ?? 'env'}:${randomUUID()}`;
  }

  private coolingDown(lookup: Lookup, untilMs: number): BrokerError {
    this.metrics.count('CooldownServed');
    const retryAfterSecs = Math.max(1, Math.ceil((untilMs - this.clock()) / 1000));
    return new BrokerError(
      'token_endpoint_unavailable',
      `token endpoint for ${lookup.profileName} is cooling down after failures; ` +
        `retry after ${retryAfterSecs} s`,
      { retryable: true, retryAfterSecs },
    );
  }

  private waitedTooLong(lookup: Lookup): BrokerError {
    return new BrokerError(
      'token_endpoint_unavailable',
      `timed out waiting for another environment's token request for ${lookup.profileName}`,
      { retryable: true },
    );
  }

  private logged(error: unknown, profile: string): unknown {
    if (error instanceof BrokerError) {
      if (!error.retryable) this.metrics.count('Refusal');
      this.deps.log[error.retryable ? 'warn' : 'error']('token request refused or failed', {
        profile,
        code: error.code,
        retryable: error.retryable,
        reason: error.message,
      });
    }
    return error;
  }
}

function reply(token: CachedToken, source: TokenSource): BrokerTokenReply {
  return {
    accessToken: token.accessToken,
    tokenType: 'Bearer',
    expiresAt: token.expiresAt,
    lifetimeSecs: token.lifetimeSecs,
    scope: token.scope,
    source,
  };
}

function logFields(token: CachedToken) {
  return {
    profile: token.profile,
    clientId: token.clientId,
    scope: token.scope,
    tokenHash: token.tokenHash,
    expiresAt: token.expiresAt,
  };
}
