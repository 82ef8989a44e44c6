/**
 * The baseline "cache per environment": what in-process OAuth libraries do.
 * Each Lambda environment keeps the last token in memory until its expiry
 * buffer, and concurrent callers that find none share one token request
 * (single flight). There is nothing shared between environments and no
 * refresh ahead: when the token runs out, the next callers wait for a new one.
 *
 * It uses the product's own token endpoint client and expiry rule, so the
 * only difference from the broker is where the token is kept.
 */
import type { ClientProfile } from '../shared/client-profile.js';
import { isServable } from '../shared/expiry.js';
import type { TokenEndpointClient } from '../shared/token-endpoint.js';
import type { TokenGrant } from '../shared/token-grant.js';

/** Where a token came from: this environment's memory, or a request it waited on. */
export type EnvironmentTokenSource = 'environment_memory' | 'token_endpoint';

export interface EnvironmentToken {
  accessToken: string;
  expiresAt: number;
  source: EnvironmentTokenSource;
}

export class PerEnvironmentTokenCache {
  private held: TokenGrant | undefined;
  private inFlight: Promise<TokenGrant> | undefined;

  constructor(
    private readonly tokenEndpoint: TokenEndpointClient,
    private readonly clock: () => number = Date.now,
  ) {}

  async getToken(profile: ClientProfile, scopes: readonly string[]): Promise<EnvironmentToken> {
    const held = this.held;
    if (held && isServable(held, this.clock())) {
      return {
        accessToken: held.accessToken,
        expiresAt: held.expiresAt,
        source: 'environment_memory',
      };
    }
    this.inFlight ??= this.tokenEndpoint
      .requestToken(profile, scopes)
      .then((grant) => (this.held = grant))
      .finally(() => (this.inFlight = undefined));
    const grant = await this.inFlight;
    return { accessToken: grant.accessToken, expiresAt: grant.expiresAt, source: 'token_endpoint' };
  }
}
