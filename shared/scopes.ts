/**
 * Scope handling per RFC 6749 §3.3: a scope is a space-delimited list of
 * case-sensitive scope tokens. The cache key uses the requested scopes sorted
 * and deduplicated, so that `write:b read:a` and `read:a write:b read:a` share
 * one token, whatever order the token server echoes them back in.
 */

/** `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )` (RFC 6749 §3.3). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Most scopes one request may name. */
export const MAX_SCOPES = 50;

/** Longest scope token accepted. */
export const MAX_SCOPE_CHARS = 200;

export function isScopeToken(value: string): boolean {
  return value.length <= MAX_SCOPE_CHARS && SCOPE_TOKEN.test(value);
}

/** Sorted, deduplicated scope tokens; the canonical form used for cache keys. */
export function normalizeScopes(scopes: readonly string[]): string[] {
  return [...new Set(scopes)].sort();
}

/** Splits a space-delimited `scope` string into its tokens. */
export function splitScope(scope: string): string[] {
  return scope.split(' ').filter(Boolean);
}
