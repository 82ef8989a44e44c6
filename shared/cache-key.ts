/**
 * The shared cache key of a token: a hash of the token endpoint, the client id
 * and the requested scopes, sorted and deduplicated. Requested scopes, not the
 * granted ones, because a server that narrows or reorders them in its reply
 * would otherwise make every lookup miss.
 */
import { sha256Hex } from './redact.js';
import { normalizeScopes } from './scopes.js';

export function tokenCacheKey(
  tokenUrl: string,
  clientId: string,
  scopes: readonly string[],
): string {
  // JSON keeps the parts apart: no choice of values can make two keys collide.
  return sha256Hex(JSON.stringify([tokenUrl, clientId, normalizeScopes(scopes)]));
}
