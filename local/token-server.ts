/**
 * A real OAuth 2.0 authorization server for tests and the local stack,
 * built on `oidc-provider` and set up to behave like the Farfetch STS for
 * the one flow the product uses: the client credentials grant
 * (RFC 6749 §4.4) at `/connect/token`, token introspection (RFC 7662) at
 * `/connect/introspect` and revocation (RFC 7009) at `/connect/revocation`.
 * Access tokens are opaque reference tokens, so the stocks API must
 * introspect them, as it must against the real server.
 *
 * oidc-provider is stricter and looser than the Farfetch STS in different
 * places, so the grant handler is replaced with one that:
 * - refuses a scope that is unknown or not allowed for the client with
 *   `invalid_scope` (oidc-provider's own handler passes unknown scopes
 *   through, or drops them when resource indicators are on);
 * - grants every scope the client is allowed when `scope` is left out;
 * - refuses credentials sent with a method other than the client's
 *   registered `token_endpoint_auth_method` with `invalid_client`
 *   (oidc-provider accepts `client_secret_basic` and `client_secret_post`
 *   interchangeably). This is enforced at the token endpoint only.
 *
 * Known differences from the Farfetch STS:
 * - plain http on 127.0.0.1, no TLS; tokens and clients live in memory and
 *   vanish with the server;
 * - token values are oidc-provider's 43-character random strings, error
 *   descriptions and the introspection reply's extra members (`iss`,
 *   `token_type`, `client_id`, ...) are oidc-provider's own;
 * - the discovery document at `/.well-known/openid-configuration` is
 *   oidc-provider's and lists only what is enabled here;
 * - no rate limiting, no client secret expiry, no audit logging.
 *
 * Tests steer it through `setAccessTokenTtl`, `revokeAll` and `setFault`: a
 * hook consulted for every request to `/connect/token` that may hold the
 * reply back for a while (a slow server, a lease holder stuck mid-fetch)
 * and/or answer in the grant handler's place (a 429 with `Retry-After`, a
 * 5xx, an HTML error page). A request a fault answers, or whose client
 * hangs up while it is held back, is still counted in `stats().tokenRequests`
 * but issues no token.
 *
 * oidc-provider prints notices on import (it wants Node 22 or later) and
 * whenever a default hook is used. Every hook it would warn about is
 * configured here, and the import and construction run with its
 * `oidc-provider ...` console lines filtered out; nothing else is muted.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

import type {
  Adapter,
  AdapterPayload,
  ClientMetadata,
  Configuration,
  KoaContextWithOIDC,
} from 'oidc-provider';

import { listenOnFreePort, stopServer } from './free-port.js';

/** Lifetime of an access token, as the Farfetch STS issues them. */
export const DEFAULT_ACCESS_TOKEN_TTL_SECS = 2400;

/** Scopes the server knows when none are configured. */
export const DEFAULT_SUPPORTED_SCOPES: readonly string[] = ['stocks'];

export const TOKEN_PATH = '/connect/token';
export const INTROSPECTION_PATH = '/connect/introspect';
export const REVOCATION_PATH = '/connect/revocation';

export interface TokenServerClient {
  clientId: string;
  /** Required unless the client uses `private_key_jwt`. */
  clientSecret?: string;
  /** The only way this client may send its credentials (RFC 6749 §2.3.1, RFC 7523). */
  authMethod: 'client_secret_post' | 'client_secret_basic' | 'private_key_jwt';
  /** Public keys that verify the client's assertions, for `private_key_jwt`. */
  jwks?: { keys: Record<string, unknown>[] };
  /** Scopes this client may request. */
  scopes: string[];
}

/** What a fault hook is told about the token request it may take over. */
export interface TokenFaultRequest {
  /** 1-based count of token requests received, this one included. */
  n: number;
}

/**
 * What a fault does to one token request: wait `delayMs` (cut short if the
 * client goes away), then answer with `status`, `body` and `headers` instead
 * of the grant handler; without a `status` the request is then served as
 * usual. `body` defaults to empty, `headers` to none.
 */
export interface TokenFaultReply {
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  delayMs?: number;
}

export type TokenFaultHook = (request: TokenFaultRequest) => TokenFaultReply | undefined;

export interface TokenServerOptions {
  clients: TokenServerClient[];
  /** Lifetime of issued access tokens. Default: 2400 seconds. */
  accessTokenTtlSecs?: number;
  /** Every scope the server knows. Default: `['stocks']`. */
  scopes?: string[];
  /**
   * The client a resource server (the stocks API) uses to introspect tokens
   * issued to any other client. It authenticates with HTTP Basic or form
   * parameters and cannot obtain tokens itself.
   */
  resourceServer: { clientId: string; clientSecret: string };
}

export interface TokenServer {
  /** `http://127.0.0.1:<port>` */
  issuer: string;
  tokenUrl: string;
  introspectionUrl: string;
  revocationUrl: string;
  /** Token requests received at /connect/token (all outcomes) and tokens issued. */
  stats(): { tokenRequests: number; tokensIssued: number };
  /** Every access token value issued, oldest first, for leak tests. */
  issuedTokens(): readonly string[];
  /** Makes every token issued so far inactive; introspection then says `active: false`. */
  revokeAll(): Promise<void>;
  /** Changes the lifetime of tokens issued from now on. */
  setAccessTokenTtl(secs: number): void;
  /** Consults `hook` for every later token request; `undefined` removes it. */
  setFault(hook?: TokenFaultHook): void;
  stop(): Promise<void>;
}

type OidcProviderModule = typeof import('oidc-provider');

/**
 * Starts the server on 127.0.0.1 at a free port. Throws `RangeError` if a
 * client is given a scope the server does not know, or a TTL is not a
 * positive integer.
 */
export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const supportedScopes = options.scopes ?? [...DEFAULT_SUPPORTED_SCOPES];
  assertClientScopesKnown(options.clients, supportedScopes);
  let ttlSecs = assertTtl(options.accessTokenTtlSecs ?? DEFAULT_ACCESS_TOKEN_TTL_SECS);

  const oidc = await quietly(() => import('oidc-provider'));
  const server = createServer();
  const { url: issuer } = await listenOnFreePort(server);

  const store = new TokenStore();
  const counters = { tokenRequests: 0, tokensIssued: 0 };
  const issued: string[] = [];
  const faults: { hook?: TokenFaultHook } = {};

  const provider = quietly(
    () =>
      new oidc.Provider(
        issuer,
        providerConfiguration(options, supportedScopes, store, () => ttlSecs),
      ),
  );
  provider.use(countTokenRequests(counters, faults));
  provider.registerGrantType(
    'client_credentials',
    clientCredentialsGrant(oidc, supportedScopes, (token) => {
      counters.tokensIssued += 1;
      issued.push(token);
    }),
    ['scope'],
  );
  server.on('request', provider.callback());

  return {
    issuer,
    tokenUrl: issuer + TOKEN_PATH,
    introspectionUrl: issuer + INTROSPECTION_PATH,
    revocationUrl: issuer + REVOCATION_PATH,
    stats: () => ({ ...counters }),
    issuedTokens: () => [...issued],
    revokeAll: async () => store.dropModel('ClientCredentials'),
    setAccessTokenTtl: (secs) => {
      ttlSecs = assertTtl(secs);
    },
    setFault: (hook) => {
      faults.hook = hook;
    },
    stop: () => stopServer(server),
  };
}

function providerConfiguration(
  options: TokenServerOptions,
  supportedScopes: string[],
  store: TokenStore,
  currentTtlSecs: () => number,
): Configuration {
  const { resourceServer } = options;
  const clients = options.clients.map((client): ClientMetadata => ({
    client_id: client.clientId,
    ...(client.clientSecret ? { client_secret: client.clientSecret } : {}),
    ...(client.jwks ? { jwks: client.jwks as ClientMetadata['jwks'] } : {}),
    token_endpoint_auth_method: client.authMethod,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: client.scopes.join(' '),
  }));
  const resourceServerClient: ClientMetadata = {
    client_id: resourceServer.clientId,
    client_secret: resourceServer.clientSecret,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: [],
    response_types: [],
    redirect_uris: [],
  };

  return {
    clients: [...clients, resourceServerClient],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    scopes: supportedScopes,
    adapter: (name: string) => store.adapterFor(name),
    jwks: { keys: [signingKey()] },
    routes: {
      token: TOKEN_PATH,
      introspection: INTROSPECTION_PATH,
      revocation: REVOCATION_PATH,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: { enabled: false },
      introspection: {
        enabled: true,
        // RFC 7662 §4: only the resource server, or the token's own client,
        // may learn about a token.
        allowedPolicy: (ctx, caller, token) =>
          caller.clientId === resourceServer.clientId || caller.clientId === token.clientId,
      },
      revocation: {
        enabled: true,
        // RFC 7009 §2.1: a client may revoke only its own tokens.
        allowedPolicy: (ctx, caller, token) => caller.clientId === token.clientId,
      },
    },
    ttl: { ClientCredentials: () => currentTtlSecs() },
    clientBasedCORS: () => false,
  };
}

/**
 * The client credentials grant as the Farfetch STS answers it
 * (RFC 6749 §4.4.2 request, §5.1 reply, §5.2 errors).
 */
function clientCredentialsGrant(
  oidc: OidcProviderModule,
  supportedScopes: string[],
  onIssued: (accessToken: string) => void,
) {
  const known = new Set(supportedScopes);

  return async (ctx: KoaContextWithOIDC): Promise<void> => {
    const { client, params } = ctx.oidc;
    if (!client) throw new oidc.errors.InvalidClient('client not found');

    const usedMethod = authMethodUsed(ctx);
    if (usedMethod !== client.clientAuthMethod) {
      throw new oidc.errors.InvalidClientAuth(
        `client authenticated with ${usedMethod}, registered for ${String(client.clientAuthMethod)}`,
      );
    }

    const allowed = new Set((client.scope ?? '').split(' ').filter(Boolean));
    const requested = parseScope(params?.scope) ?? [...allowed];
    for (const scope of requested) {
      if (!known.has(scope) || !allowed.has(scope)) {
        throw new oidc.errors.InvalidScope('requested scope is not allowed', scope);
      }
    }

    const scope = requested.join(' ') || undefined;
    const token = new ctx.oidc.provider.ClientCredentials({ client, scope });
    ctx.oidc.entity('ClientCredentials', token);
    const accessToken = await token.save();
    onIssued(accessToken);

    ctx.body = {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: token.expiration,
      ...(scope ? { scope } : {}),
    };
  };
}

/** How the request presented its credentials. */
function authMethodUsed(ctx: KoaContextWithOIDC): string {
  if (ctx.headers.authorization) return 'client_secret_basic';
  const body = (ctx.oidc as unknown as { body?: Record<string, unknown> }).body;
  return body?.client_assertion ? 'private_key_jwt' : 'client_secret_post';
}

/** Space-delimited scope (RFC 6749 §3.3); `undefined` when absent. */
function parseScope(value: unknown): string[] | undefined {
  if (typeof value !== 'string') return undefined;
  return [...new Set(value.split(' ').filter(Boolean))];
}

function countTokenRequests(
  counters: { tokenRequests: number },
  faults: { hook?: TokenFaultHook },
) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    if (ctx.method !== 'POST' || ctx.path !== TOKEN_PATH) return next();
    counters.tokenRequests += 1;
    const fault = faults.hook?.({ n: counters.tokenRequests });
    // A client that hung up during the delay is answered no more, as it can read nothing.
    if (fault?.delayMs && !(await delayUnlessClosed(ctx, fault.delayMs))) return;
    if (fault?.status === undefined) return next();

    ctx.status = fault.status;
    ctx.set(fault.headers ?? {});
    ctx.body = fault.body ?? '';
  };
}

/** Waits `ms`; resolves early, to false, if the client closes its connection first. */
function delayUnlessClosed(ctx: KoaContextWithOIDC, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (open: boolean) => {
      clearTimeout(timer);
      ctx.res.off('close', closed);
      resolve(open);
    };
    const closed = () => finish(false);
    const timer = setTimeout(() => finish(true), ms);
    ctx.res.once('close', closed);
  });
}

/**
 * oidc-provider's own storage, kept per server so two servers in one
 * process never share tokens, and so `revokeAll` can drop every token.
 */
class TokenStore {
  readonly #models = new Map<string, Map<string, StoredEntry>>();

  adapterFor(name: string): Adapter {
    const entries = this.#entries(name);
    const live = (id: string) => {
      const entry = entries.get(id);
      if (entry && entry.expiresAtMs <= Date.now()) entries.delete(id);
      return entries.get(id);
    };

    return {
      upsert: async (id, payload, expiresIn) => {
        const expiresAtMs = expiresIn === undefined ? Infinity : Date.now() + expiresIn * 1000;
        entries.set(id, { payload, expiresAtMs });
      },
      find: async (id) => live(id)?.payload,
      findByUid: async (uid) =>
        [...entries.keys()].map(live).find((e) => e?.payload.uid === uid)?.payload,
      findByUserCode: async (userCode) =>
        [...entries.keys()].map(live).find((e) => e?.payload.userCode === userCode)?.payload,
      consume: async (id) => {
        const entry = live(id);
        if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
      },
      destroy: async (id) => {
        entries.delete(id);
      },
      revokeByGrantId: async (grantId) => {
        for (const [id, entry] of entries) {
          if (entry.payload.grantId === grantId) entries.delete(id);
        }
      },
    };
  }

  dropModel(name: string): void {
    this.#entries(name).clear();
  }

  #entries(name: string): Map<string, StoredEntry> {
    let entries = this.#models.get(name);
    if (!entries) {
      entries = new Map();
      this.#models.set(name, entries);
    }
    return entries;
  }
}

interface StoredEntry {
  payload: AdapterPayload;
  expiresAtMs: number;
}

/**
 * A throwaway RSA key: oidc-provider needs one to start even though
 * nothing here is signed, and warns when it falls back to its own.
 */
function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256' };
}

function assertClientScopesKnown(clients: TokenServerClient[], supportedScopes: string[]): void {
  for (const client of clients) {
    const unknown = client.scopes.filter((s) => !supportedScopes.includes(s));
    if (unknown.length > 0) {
      throw new RangeError(
        `client ${client.clientId} is given unknown scopes: ${unknown.join(', ')}`,
      );
    }
  }
}

function assertTtl(secs: number): number {
  if (!Number.isSafeInteger(secs) || secs <= 0) {
    throw new RangeError(`access token TTL must be a positive integer of seconds, got ${secs}`);
  }
  return secs;
}

/**
 * Runs `action` with oidc-provider's console notices filtered out. The
 * console is restored before this returns (or, for a promise, settles).
 */
function quietly<T>(action: () => T): T {
  const { info, warn } = console;
  const fromOidcProvider = (args: unknown[]) =>
    typeof args[0] === 'string' && args[0].includes('oidc-provider ');
  console.info = (...args: unknown[]) => {
    if (!fromOidcProvider(args)) info.apply(console, args);
  };
  console.warn = (...args: unknown[]) => {
    if (!fromOidcProvider(args)) warn.apply(console, args);
  };
  const restore = () => {
    console.info = info;
    console.warn = warn;
  };

  try {
    const result = action();
    if (result instanceof Promise) {
      return result.finally(restore) as T;
    }
    restore();
    return result;
  } catch (error) {
    restore();
    throw error;
  }
}
