/**
 * The token broker's request and reply, as they cross the Lambda Invoke API.
 * Validation names the field at fault and rejects unknown fields, so a typo
 * in a caller is reported rather than silently ignored.
 */
import { isProfileName } from './client-profile.js';
import { ValidationError } from './errors.js';
import { isScopeToken, MAX_SCOPES, normalizeScopes } from './scopes.js';
import { TOKEN_HASH_HEX_CHARS } from './constants.js';

export interface BrokerRequest {
  /** Client profile name: the secret `<prefix><client>` holds its credentials. */
  client: string;
  /** Scopes to request; absent means the profile's default scopes. */
  scopes?: string[];
  /**
   * Hash (see `tokenHash`) of a token an API just refused. The broker evicts
   * the cached token only if it is still that one, then serves a fresh one.
   */
  rejectedTokenHash?: string;
}

/** Where the token served came from: broker memory, the shared table, or a new request. */
export type TokenSource = 'broker_memory' | 'cache' | 'token_endpoint';

export interface BrokerTokenReply {
  accessToken: string;
  tokenType: 'Bearer';
  /** Epoch seconds, to the millisecond. */
  expiresAt: number;
  /**
   * Lifetime the token was granted, in seconds: callers size its expiry
   * buffer from it, as the broker does, not from what is left of it.
   */
  lifetimeSecs: number;
  /** Scope as granted by the token server. */
  scope: string;
  source: TokenSource;
}

/**
 * The scheduled warm-up's event: renew the default token of each named
 * profile if it is missing, due for renewal, or would leave service within
 * `withinSecs`.
 */
export interface RefreshRequest {
  action: 'refresh';
  clients: string[];
  /** Seconds until the next scheduled warm-up; a token leaving service before then is renewed now. */
  withinSecs?: number;
}

/** Most profiles one warm-up may name. */
export const MAX_REFRESH_CLIENTS = 20;

/** Longest look-ahead a warm-up may ask for: one day, the longest lifetime kept. */
export const MAX_REFRESH_WITHIN_SECS = 86_400;

const FIELDS = new Set(['client', 'scopes', 'rejectedTokenHash']);
const REFRESH_FIELDS = new Set(['action', 'clients', 'withinSecs']);

/** True for an event that asks for a warm-up rather than a token. */
export function isRefreshEvent(event: unknown): boolean {
  return typeof event === 'object' && event !== null && 'action' in event;
}

export function parseRefreshRequest(event: unknown): RefreshRequest {
  const raw = objectOf(event, REFRESH_FIELDS, 'refresh request');
  if (raw.action !== 'refresh') throw new ValidationError('action', 'must be "refresh"');
  const clients = listOf(raw.clients);
  if (!Array.isArray(clients) || clients.length === 0 || clients.length > MAX_REFRESH_CLIENTS) {
    throw new ValidationError(
      'clients',
      `must be an array of 1 to ${MAX_REFRESH_CLIENTS} profile names`,
    );
  }
  clients.forEach((name, index) => {
    if (typeof name !== 'string' || !isProfileName(name)) {
      throw new ValidationError(`clients[${index}]`, 'must be a profile name');
    }
  });
  const request: RefreshRequest = { action: 'refresh', clients: [...new Set(clients as string[])] };
  if (raw.withinSecs !== undefined) request.withinSecs = withinSecs(raw.withinSecs);
  return request;
}

/*
 * The warm-up's event is the schedule's input in serverless.yml, filled from
 * params. A param given per run (`--param="refreshClients=a,b"`,
 * `--param="refreshWithinSecs=600"`) arrives as text, so a comma-separated
 * list and a digits-only number are read as what they spell.
 */
function listOf(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  return value.split(',').map((name) => name.trim());
}

function withinSecs(value: unknown): number {
  const secs = typeof value === 'string' && /^\d{1,6}$/.test(value.trim()) ? Number(value) : value;
  if (
    !Number.isInteger(secs) ||
    (secs as number) < 0 ||
    (secs as number) > MAX_REFRESH_WITHIN_SECS
  ) {
    throw new ValidationError(
      'withinSecs',
      `must be a whole number of seconds from 0 to ${MAX_REFRESH_WITHIN_SECS}`,
    );
  }
  return secs as number;
}
const TOKEN_HASH = new RegExp(`^[0-9a-f]{${TOKEN_HASH_HEX_CHARS}}$`);

export function parseBrokerRequest(event: unknown): BrokerRequest {
  const raw = objectOf(event, FIELDS, 'broker request');

  const request: BrokerRequest = { client: client(raw.client) };
  if (raw.scopes !== undefined) request.scopes = scopes(raw.scopes);
  if (raw.rejectedTokenHash !== undefined) {
    if (typeof raw.rejectedTokenHash !== 'string' || !TOKEN_HASH.test(raw.rejectedTokenHash)) {
      throw new ValidationError(
        'rejectedTokenHash',
        `must be ${TOKEN_HASH_HEX_CHARS} lowercase hex characters`,
      );
    }
    request.rejectedTokenHash = raw.rejectedTokenHash;
  }
  return request;
}

function client(value: unknown): string {
  if (value === undefined) throw new ValidationError('client', 'is required');
  if (typeof value !== 'string' || !isProfileName(value)) {
    throw new ValidationError(
      'client',
      'must be 1-64 letters, digits, "-" or "_", starting with a letter or digit',
    );
  }
  return value;
}

function scopes(value: unknown): string[] {
  if (!Array.isArray(value)) throw new ValidationError('scopes', 'must be an array of strings');
  if (value.length === 0) {
    throw new ValidationError(
      'scopes',
      "must not be empty; leave it out for the profile's default",
    );
  }
  if (value.length > MAX_SCOPES) {
    throw new ValidationError('scopes', `must hold at most ${MAX_SCOPES} entries`);
  }
  value.forEach((scope, index) => {
    if (typeof scope !== 'string' || !isScopeToken(scope)) {
      throw new ValidationError(`scopes[${index}]`, 'must be a scope token (RFC 6749 §3.3)');
    }
  });
  return normalizeScopes(value as string[]);
}

/** The event as an object holding only `fields`; anything else names what is wrong. */
function objectOf(event: unknown, fields: Set<string>, kind: string): Record<string, unknown> {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new ValidationError('event', 'must be a JSON object');
  }
  const raw = event as Record<string, unknown>;
  const unknown = Object.keys(raw).find((key) => !fields.has(key));
  if (unknown !== undefined) {
    throw new ValidationError(printable(unknown), `is not a ${kind} field`);
  }
  return raw;
}

/** A field name from untrusted input, made safe to put in a message. */
function printable(name: string): string {
  return JSON.stringify(name.slice(0, 64));
}
