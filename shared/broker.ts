/**
 * The token broker's core: serve a valid token for a client profile and a set
 * of scopes, from the shared DynamoDB cache when it holds one that is still
 * servable, otherwise from the token endpoint. A cache that fails is treated
 * as a miss, never as an outage, and a failed token request is never cached.
 */
import { tokenCacheKey } from './cache-key.js';
import type { ClientProfileStore, ProfileLookup } from './client-profile-store.js';
import { epochSecs, systemClock, type Clock } from './clock.js';
import { BrokerError } from './errors.js';
import { isServable } from './expiry.js';
import type { Log } from './logger.js';
import { tokenHash } from './redact.js';
import { normalizeScopes } from './scopes.js';
import type { BrokerRequest, BrokerTokenReply } from './broker-request.js';
import type { TokenEndpointClient } from './token-endpoint.js';
import type { CachedToken, TokenTable } from './token-table.js';

export interface TokenBrokerDeps {
  profiles: ClientProfileStore;
  tokenEndpoint: TokenEndpointClient;
  tokens: TokenTable;
  log: Log;
  clock?: Clock;
}

/** Refusals after which the secret may have been rotated (RFC 6749 §5.2). */
const CREDENTIAL_REFUSALS = new Set(['invalid_client', 'unauthorized_client']);

export class TokenBroker {
  private readonly clock: Clock;

  constructor(private readonly deps: TokenBrokerDeps) {
    this.clock = deps.clock ?? systemClock;
  }

  async getToken(request: BrokerRequest): Promise<BrokerTokenReply> {
    const lookup = await this.deps.profiles.get(request.client);
    const scopes = normalizeScopes(request.scopes ?? lookup.profile.scopes);
    const cacheKey = tokenCacheKey(lookup.profile.tokenUrl, lookup.profile.clientId, scopes);

    if (request.rejectedTokenHash) await this.invalidate(cacheKey, request.rejectedTokenHash);
    const cached = await this.readCache(cacheKey, request.client);
    if (cached && cached.tokenHash !== request.rejectedTokenHash) {
      this.deps.log.debug('token served from cache', logFields(cached));
      return reply(cached, 'cache');
    }

    const fresh = await this.fetchToken(request.client, lookup, scopes, cacheKey);
    await this.store(fresh);
    this.deps.log.info('token obtained from token endpoint', logFields(fresh));
    return reply(fresh, 'token_endpoint');
  }

  private async readCache(cacheKey: string, profile: string): Promise<CachedToken | undefined> {
    try {
      const cached = await this.deps.tokens.get(cacheKey);
      if (cached && isServable(cached, this.clock())) return cached;
      if (cached) this.deps.log.debug('cached token past its expiry buffer', logFields(cached));
      return undefined;
    } catch (error) {
      this.deps.log.warn('token cache unavailable, treated as a miss', {
        profile,
        errorName: nameOf(error),
      });
      return undefined;
    }
  }

  private async invalidate(cacheKey: string, hash: string): Promise<void> {
    try {
      const deleted = await this.deps.tokens.deleteIfHolds(cacheKey, hash);
      this.deps.log.info('rejected token reported', { tokenHash: hash, evicted: deleted });
    } catch (error) {
      this.deps.log.warn('rejected token could not be evicted', {
        tokenHash: hash,
        errorName: nameOf(error),
      });
    }
  }

  /**
   * Requests a token; on a credential refusal, reads the secret again past the
   * cache and retries once, but only if its version changed (a rotation).
   */
  private async fetchToken(
    profile: string,
    lookup: ProfileLookup,
    scopes: string[],
    cacheKey: string,
  ): Promise<CachedToken> {
    try {
      return await this.requestFromEndpoint(profile, lookup, scopes, cacheKey);
    } catch (error) {
      if (!(error instanceof BrokerError) || !CREDENTIAL_REFUSALS.has(error.code)) {
        throw this.logged(error, profile);
      }
      const reread = await this.deps.profiles.get(profile, { bypassCache: true });
      if (reread.versionId === lookup.versionId) throw this.logged(error, profile);
      this.deps.log.info('client secret changed, retrying once', { profile });
      return this.requestFromEndpoint(profile, reread, scopes, cacheKey).catch((retryError) => {
        throw this.logged(retryError, profile);
      });
    }
  }

  private async requestFromEndpoint(
    profile: string,
    lookup: ProfileLookup,
    scopes: string[],
    cacheKey: string,
  ): Promise<CachedToken> {
    const sentAt = epochSecs(this.clock());
    const grant = await this.deps.tokenEndpoint.requestToken(lookup.profile, scopes);
    return {
      ...grant,
      cacheKey,
      tokenHash: tokenHash(grant.accessToken),
      issuedAt: sentAt,
      clientId: lookup.profile.clientId,
      profile,
      requestedScope: scopes.join(' '),
    };
  }

  private async store(token: CachedToken): Promise<void> {
    try {
      const outcome = await this.deps.tokens.put(token);
      if (outcome === 'newer_token_kept') {
        this.deps.log.debug('cache already holds a later-expiring token', logFields(token));
      }
    } catch (error) {
      this.deps.log.warn('token could not be cached', {
        ...logFields(token),
        errorName: nameOf(error),
      });
    }
  }

  private logged(error: unknown, profile: string): unknown {
    if (error instanceof BrokerError) {
      const level = error.retryable ? 'warn' : 'error';
      this.deps.log[level]('token request refused or failed', {
        profile,
        code: error.code,
        retryable: error.retryable,
        reason: error.message,
      });
    }
    return error;
  }
}

function reply(token: CachedToken, source: BrokerTokenReply['source']): BrokerTokenReply {
  return {
    accessToken: token.accessToken,
    tokenType: 'Bearer',
    expiresAt: token.expiresAt,
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

function nameOf(error: unknown): string {
  return error instanceof Error ? error.name : 'UnknownError';
}
