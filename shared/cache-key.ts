/**
 * The shared cache key of a token: a hash of the token endpoint, the client
 * id, the requested scopes (sorted and deduplicated) and any audience or
 * resource. Requested scopes, not the granted ones, because a server that
 * narrows or reorders them in its reply would otherwise make every lookup miss.
 */
import type { ClientProfile } from './client-profile.js';
import { sha256Hex } from './redact.js';
import { normalizeScopes } from './scopes.js';

/** What makes two token requests interchangeable. */
export type TokenIdentity = Pick<ClientProfile, 'tokenUrl' | 'clientId' | 'audience' | 'resource'>;

export function tokenCacheKey(identity: TokenIdentity, scopes: readonly string[]): string {
  // JSON keeps the parts apart: no choice of values can make two keys collide.
  // Audience and resource (RFC 8707) select a different token, so they count.
  return sha256Hex(
    JSON.stringify([
      identity.tokenUrl,
      identity.clientId,
      normalizeScopes(scopes),
      identity.audience ?? null,
      identity.resource ?? null,
    ]),
  );
}
