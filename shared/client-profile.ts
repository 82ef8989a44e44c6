/**
 * A client profile: everything the broker needs to get tokens for one OAuth
 * client, stored as one JSON secret in Secrets Manager. Validation names the
 * field at fault and never echoes a value, since the document holds a secret.
 */
import { isIPv4 } from 'node:net';
import { SigningKeyError, ValidationError } from './errors.js';
import { signingKey } from './jws.js';
import { isScopeToken, MAX_SCOPES, normalizeScopes } from './scopes.js';

/**
 * How the client authenticates at the token endpoint: with its secret
 * (RFC 6749 §2.3.1) or with a JWT signed by its private key (RFC 7523 §2.2).
 */
export type AuthMethod = 'client_secret_post' | 'client_secret_basic' | 'private_key_jwt';

export const AUTH_METHODS: readonly AuthMethod[] = [
  'client_secret_post',
  'client_secret_basic',
  'private_key_jwt',
];

/** JWS algorithms accepted for `private_key_jwt` assertions. */
export const SIGNING_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

export interface ClientProfile {
  clientId: string;
  /** Required for `client_secret_post` and `client_secret_basic`. */
  clientSecret?: string;
  /** PKCS#8 PEM private key; required for `private_key_jwt`. */
  privateKey?: string;
  /** Algorithm of the client assertion; default RS256. */
  signingAlg?: SigningAlg;
  /** `kid` header of the client assertion, when the server needs it. */
  keyId?: string;
  tokenUrl: string;
  /** Scopes requested when a caller names none; may be empty. */
  scopes: string[];
  /** Default `client_secret_post`, as the Farfetch documentation shows. */
  authMethod: AuthMethod;
  /** Optional `audience` parameter some token servers require. */
  audience?: string;
  /** Optional `resource` parameter (RFC 8707). */
  resource?: string;
}

/** Profile names are plain identifiers, so a name can never leave the secret prefix. */
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function isProfileName(value: string): boolean {
  return PROFILE_NAME.test(value);
}

const KNOWN_FIELDS = new Set([
  'client_id',
  'client_secret',
  'token_url',
  'scopes',
  'auth_method',
  'private_key',
  'signing_alg',
  'key_id',
  'audience',
  'resource',
]);

/**
 * Parses the secret's JSON document. Field names follow the token request's
 * own parameter names; `scopes` may be an array or a space-delimited string.
 */
export function parseClientProfile(document: string): ClientProfile {
  const raw = parseJsonObject(document);
  rejectUnknownFields(raw);

  const profile: ClientProfile = {
    clientId: visibleString(raw, 'client_id'),
    tokenUrl: tokenUrl(raw),
    scopes: scopes(raw),
    authMethod: authMethod(raw),
  };
  Object.assign(profile, credentials(raw, profile.authMethod));
  const audience = optionalString(raw, 'audience');
  if (audience !== undefined) profile.audience = audience;
  const resource = optionalString(raw, 'resource');
  if (resource !== undefined) profile.resource = resource;
  return profile;
}

/** True for `https:` URLs, and for `http:` only on a loopback host. */
export function isAllowedTokenUrl(url: URL): boolean {
  if (url.protocol === 'https:') return true;
  if (url.protocol !== 'http:') return false;
  const host = url.hostname;
  return host === 'localhost' || host === '[::1]' || (isIPv4(host) && host.startsWith('127.'));
}

function parseJsonObject(document: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(document);
  } catch {
    throw new ValidationError('secret', 'is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError('secret', 'must be a JSON object');
  }
  return value as Record<string, unknown>;
}

function rejectUnknownFields(raw: Record<string, unknown>): void {
  const unknown = Object.keys(raw).find((key) => !KNOWN_FIELDS.has(key));
  if (unknown !== undefined) {
    throw new ValidationError(unknown.slice(0, 64), 'is not a client profile field');
  }
}

function requiredString(raw: Record<string, unknown>, field: string): string {
  const value = raw[field];
  if (typeof value !== 'string') throw new ValidationError(field, 'must be a string');
  if (value.trim() === '') throw new ValidationError(field, 'must not be empty');
  return value;
}

/** RFC 6749 Appendix A: `client_id` and `client_secret` are `*VSCHAR` (%x20-7E). */
function visibleString(raw: Record<string, unknown>, field: string): string {
  const value = requiredString(raw, field);
  if (!/^[\x20-\x7e]+$/.test(value)) {
    throw new ValidationError(
      field,
      'must hold printable ASCII characters only (RFC 6749 Appendix A)',
    );
  }
  return value;
}

function optionalString(raw: Record<string, unknown>, field: string): string | undefined {
  return raw[field] === undefined ? undefined : requiredString(raw, field);
}

function tokenUrl(raw: Record<string, unknown>): string {
  const value = requiredString(raw, 'token_url');
  if (!URL.canParse(value)) throw new ValidationError('token_url', 'must be an absolute URL');
  const url = new URL(value);
  if (!isAllowedTokenUrl(url)) {
    throw new ValidationError('token_url', 'must use https (http is allowed only on loopback)');
  }
  if (url.username || url.password) {
    throw new ValidationError('token_url', 'must not embed credentials');
  }
  return url.toString();
}

function scopes(raw: Record<string, unknown>): string[] {
  const value = raw.scopes;
  if (value === undefined) return [];
  const list = typeof value === 'string' ? value.split(' ').filter(Boolean) : value;
  if (!Array.isArray(list)) {
    throw new ValidationError('scopes', 'must be an array of strings or a space-delimited string');
  }
  if (list.length > MAX_SCOPES)
    throw new ValidationError('scopes', `must hold at most ${MAX_SCOPES}`);
  list.forEach((scope, index) => {
    if (typeof scope !== 'string' || !isScopeToken(scope)) {
      throw new ValidationError(`scopes[${index}]`, 'must be a scope token (RFC 6749 §3.3)');
    }
  });
  return normalizeScopes(list as string[]);
}

/** The credential the auth method needs; the other kind is not kept. */
function credentials(raw: Record<string, unknown>, method: AuthMethod): Partial<ClientProfile> {
  if (method !== 'private_key_jwt') return { clientSecret: visibleString(raw, 'client_secret') };

  const privateKey = requiredString(raw, 'private_key');
  if (!/^-----BEGIN PRIVATE KEY-----[\s\S]+-----END PRIVATE KEY-----\s*$/.test(privateKey.trim())) {
    throw new ValidationError('private_key', 'must be a PKCS#8 PEM private key');
  }
  const signingAlg = raw.signing_alg ?? 'RS256';
  if (!SIGNING_ALGS.includes(signingAlg as SigningAlg)) {
    throw new ValidationError('signing_alg', `must be one of ${SIGNING_ALGS.join(', ')}`);
  }
  try {
    // The key must sign with the algorithm named, or every token request fails.
    signingKey(privateKey, signingAlg as SigningAlg);
  } catch (error) {
    const reason = error instanceof SigningKeyError ? error.message : 'cannot be read';
    throw new ValidationError('private_key', `${reason} (signing_alg ${String(signingAlg)})`);
  }
  const keyId = optionalString(raw, 'key_id');
  return { privateKey, signingAlg: signingAlg as SigningAlg, ...(keyId ? { keyId } : {}) };
}

function authMethod(raw: Record<string, unknown>): AuthMethod {
  const value = raw.auth_method ?? 'client_secret_post';
  if (!AUTH_METHODS.includes(value as AuthMethod)) {
    throw new ValidationError('auth_method', `must be one of ${AUTH_METHODS.join(', ')}`);
  }
  return value as AuthMethod;
}
