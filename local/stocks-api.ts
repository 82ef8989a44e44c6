/**
 * A local stand-in for the Farfetch stocks API: `GET /stocks` pages through
 * the deterministic catalogue in `stock-catalogue.ts`, and every request
 * must carry an access token that the token server's introspection
 * endpoint (RFC 7662) says is active and holds the required scope, exactly
 * as a resource server that accepts opaque tokens must check them.
 *
 * Tests steer it through `invalidEntries` (records served broken) and
 * `setFault` (a page answers with any status, body or headers). It never
 * logs, and never echoes a token in a reply.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

import { listenOnFreePort, stopServer } from './free-port.js';
import { invalidRecordAt, stockRecordAt, type InvalidKind } from './stock-catalogue.js';

/** Catalogue size when none is given. */
export const DEFAULT_TOTAL_ITEMS = 20_000;
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
export const DEFAULT_REQUIRED_SCOPE = 'stocks';
export const STOCKS_PATH = '/stocks';

export interface StocksApiOptions {
  /** Where and as whom to introspect bearer tokens. */
  introspection: { url: string; clientId: string; clientSecret: string };
  /** Number of catalogue records served. Default: 20 000. */
  totalItems?: number;
  /** Catalogue indexes served broken, and how. Default: none. */
  invalidEntries?: Map<number, InvalidKind> | ((index: number) => InvalidKind | undefined);
  /** Scope a token must hold. Default: `'stocks'`. */
  requiredScope?: string;
}

/** What a fault hook is told about the request it may take over. */
export interface FaultRequest {
  /** The 1-based page asked for. */
  page: number;
  /** 1 for the first authorized request of this page, 2 for the next... */
  attempt: number;
}

/** A reply that replaces the normal one. `body` is sent verbatim. */
export interface FaultReply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

export type FaultHook = (request: FaultRequest) => FaultReply | undefined;

export interface StocksApiStats {
  /** Every request received, whatever its outcome. */
  requests: number;
  /** Requests answered 401 because of a missing or rejected token. */
  unauthorized: number;
  /** Pages answered 200 from the catalogue (faults not included). */
  pagesServed: number;
}

export interface StocksApi {
  /** `http://127.0.0.1:<port>`; the stocks are at `${url}/stocks`. */
  url: string;
  stats(): StocksApiStats;
  /** Installs (or with `undefined` removes) a hook that may take over a page. */
  setFault(fault: FaultHook | undefined): void;
  stop(): Promise<void>;
}

/** A stocks page, as the API serves it. */
export interface StocksPage {
  number: number;
  totalPages: number;
  totalItems: number;
  entries: unknown[];
}

/** Thrown when the API cannot check a token; answered with 503. */
export class IntrospectionUnavailableError extends Error {
  readonly code = 'INTROSPECTION_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IntrospectionUnavailableError';
  }
}

/** Starts the API on 127.0.0.1 at a free port. */
export async function startStocksApi(options: StocksApiOptions): Promise<StocksApi> {
  const totalItems = options.totalItems ?? DEFAULT_TOTAL_ITEMS;
  if (!Number.isSafeInteger(totalItems) || totalItems < 0) {
    throw new RangeError(`totalItems must be a non-negative integer, got ${totalItems}`);
  }

  const stats: StocksApiStats = { requests: 0, unauthorized: 0, pagesServed: 0 };
  const attempts = new Map<number, number>();
  let fault: FaultHook | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    stats.requests += 1;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== STOCKS_PATH) {
      return sendJson(res, 404, { error: 'not_found', error_description: 'no such resource' });
    }
    if (req.method !== 'GET') {
      res.setHeader('Allow', 'GET');
      return sendJson(res, 405, {
        error: 'method_not_allowed',
        error_description: 'only GET is supported',
      });
    }

    const verdict = await checkAccessToken(req, options);
    if (verdict.kind !== 'authorized') {
      if (verdict.status === 401) stats.unauthorized += 1;
      return sendRefusal(res, verdict);
    }

    const paging = parsePaging(url.searchParams);
    if ('error' in paging) {
      return sendJson(res, 400, { error: 'invalid_request', error_description: paging.error });
    }

    const attempt = (attempts.get(paging.page) ?? 0) + 1;
    attempts.set(paging.page, attempt);
    const faultReply = fault?.({ page: paging.page, attempt });
    if (faultReply) return sendFault(res, faultReply);

    stats.pagesServed += 1;
    sendJson(res, 200, stocksPage(paging, totalItems, options.invalidEntries));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const unavailable = error instanceof IntrospectionUnavailableError;
      if (!res.headersSent) {
        sendJson(res, unavailable ? 503 : 500, {
          error: unavailable ? 'temporarily_unavailable' : 'server_error',
          error_description: unavailable
            ? 'the access token could not be checked'
            : 'the request could not be served',
        });
      } else {
        res.destroy();
      }
    });
  });
  const { url } = await listenOnFreePort(server);

  return {
    url,
    stats: () => ({ ...stats }),
    setFault: (hook) => {
      fault = hook;
    },
    stop: () => stopServer(server),
  };
}

interface Paging {
  page: number;
  pageSize: number;
}

/** Reads `page` (1-based, default 1) and `pageSize` (default 100, max 1000). */
export function parsePaging(params: URLSearchParams): Paging | { error: string } {
  const page = parsePositiveInt(params, 'page', 1);
  if (typeof page === 'string') return { error: page };
  const pageSize = parsePositiveInt(params, 'pageSize', DEFAULT_PAGE_SIZE);
  if (typeof pageSize === 'string') return { error: pageSize };
  if (pageSize > MAX_PAGE_SIZE) {
    return { error: `pageSize must be at most ${MAX_PAGE_SIZE}` };
  }
  return { page, pageSize };
}

/** The number, or an error message naming the parameter. */
function parsePositiveInt(
  params: URLSearchParams,
  name: string,
  fallback: number,
): number | string {
  const values = params.getAll(name);
  if (values.length === 0) return fallback;
  if (values.length > 1) return `${name} must be given once`;
  const raw = values[0]!;
  if (!/^[0-9]{1,9}$/.test(raw) || Number(raw) < 1) {
    return `${name} must be a positive integer`;
  }
  return Number(raw);
}

/** Page `page` of the catalogue; past the last page, `entries` is empty. */
function stocksPage(
  { page, pageSize }: Paging,
  totalItems: number,
  invalidEntries: StocksApiOptions['invalidEntries'],
): StocksPage {
  const first = (page - 1) * pageSize;
  const last = Math.min(first + pageSize, totalItems);
  const entries: unknown[] = [];
  for (let index = first; index < last; index += 1) {
    const kind = invalidKindAt(index, invalidEntries);
    entries.push(kind ? invalidRecordAt(index, kind) : stockRecordAt(index));
  }

  return {
    number: page,
    totalPages: Math.ceil(totalItems / pageSize),
    totalItems,
    entries,
  };
}

function invalidKindAt(
  index: number,
  invalidEntries: StocksApiOptions['invalidEntries'],
): InvalidKind | undefined {
  if (!invalidEntries) return undefined;
  return typeof invalidEntries === 'function' ? invalidEntries(index) : invalidEntries.get(index);
}

type TokenVerdict =
  | { kind: 'authorized' }
  | { kind: 'refused'; status: 401 | 403; error: string; description: string };

/**
 * RFC 6750 §2.1 bearer token, checked by RFC 7662 introspection: the token
 * must be active, unexpired and hold the required scope.
 */
async function checkAccessToken(
  req: IncomingMessage,
  options: StocksApiOptions,
): Promise<TokenVerdict> {
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(req.headers.authorization ?? '');
  if (!match) {
    return refuse(401, 'invalid_token', 'a bearer access token is required');
  }

  const introspection = await introspect(match[1]!, options.introspection);
  const nowSecs = Math.floor(Date.now() / 1000);
  if (introspection.active !== true) {
    return refuse(401, 'invalid_token', 'the access token is not active');
  }
  if (typeof introspection.exp === 'number' && introspection.exp <= nowSecs) {
    return refuse(401, 'invalid_token', 'the access token has expired');
  }

  const requiredScope = options.requiredScope ?? DEFAULT_REQUIRED_SCOPE;
  const scopes = typeof introspection.scope === 'string' ? introspection.scope.split(' ') : [];
  if (!scopes.includes(requiredScope)) {
    return refuse(403, 'insufficient_scope', `the access token lacks scope ${requiredScope}`);
  }
  return { kind: 'authorized' };
}

function refuse(status: 401 | 403, error: string, description: string): TokenVerdict {
  return { kind: 'refused', status, error, description };
}

async function introspect(
  token: string,
  { url, clientId, clientSecret }: StocksApiOptions['introspection'],
): Promise<Record<string, unknown>> {
  // RFC 6749 §2.3.1: the credentials are form-encoded before Basic encoding.
  const credentials = Buffer.from(
    `${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`,
  ).toString('base64');

  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Basic ${credentials}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
    });
  } catch (cause) {
    throw new IntrospectionUnavailableError('introspection request failed', { cause });
  }
  if (!response.ok) {
    throw new IntrospectionUnavailableError(`introspection answered ${response.status}`);
  }

  const body: unknown = await response.json().catch(() => undefined);
  if (typeof body !== 'object' || body === null) {
    throw new IntrospectionUnavailableError('introspection reply is not a JSON object');
  }
  return body as Record<string, unknown>;
}

function sendRefusal(
  res: ServerResponse,
  verdict: Extract<TokenVerdict, { kind: 'refused' }>,
): void {
  // RFC 6750 §3: the challenge names the error; the description is fixed text.
  res.setHeader(
    'WWW-Authenticate',
    `Bearer realm="stocks", error="${verdict.error}", error_description="${verdict.description}"`,
  );
  sendJson(res, verdict.status, { error: verdict.error, error_description: verdict.description });
}

function sendFault(res: ServerResponse, reply: FaultReply): void {
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body ?? '');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(JSON.stringify(body));
}
