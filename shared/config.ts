/**
 * The one module that reads environment variables. Each reader names the
 * variable that is missing or malformed, so a misconfigured deployment fails
 * at its first invocation with a message that says what to fix.
 */
import { ConfigurationError } from './errors.js';
import {
  DEFAULT_SECRET_PREFIX,
  DEFAULT_STOCK_SYNC_CLIENT,
  DEFAULT_STOCKS_API_URL,
  DEFAULT_TOKEN_LIFETIME_SECS,
  MAX_TOKEN_LIFETIME_SECS,
  STOCKS_PAGE_SIZE,
} from './constants.js';

/** Names of every environment variable the functions read. */
export const ENV = {
  tokensTable: 'TOKENS_TABLE',
  secretPrefix: 'SECRET_PREFIX',
  defaultTokenLifetimeSecs: 'DEFAULT_TOKEN_LIFETIME_SECS',
  maxTokenLifetimeSecs: 'MAX_TOKEN_LIFETIME_SECS',
  tokenBrokerFunction: 'TOKEN_BROKER_FUNCTION',
  stockSyncClient: 'STOCK_SYNC_CLIENT',
  stockSyncScopes: 'STOCK_SYNC_SCOPES',
  stocksApiUrl: 'STOCKS_API_URL',
  stocksPageSize: 'STOCKS_PAGE_SIZE',
  stocksTable: 'STOCKS_TABLE',
  syncRunsTable: 'SYNC_RUNS_TABLE',
} as const;

type Env = Record<string, string | undefined>;

/** Configuration of the token broker function. */
export interface BrokerConfig {
  tokensTable: string;
  /** Secret name prefix of client profiles; default `token-broker/clients/`. */
  secretPrefix: string;
  /** Lifetime assumed when a reply omits `expires_in`; default 300 s. */
  defaultTokenLifetimeSecs: number;
  /** Longest lifetime believed from a reply; longer claims are capped; default 86 400 s. */
  maxTokenLifetimeSecs: number;
}

/** Configuration of the stock sync function. */
export interface StockSyncConfig {
  tokenBrokerFunction: string;
  /** Client profile to request tokens for; default `farfetch`. */
  client: string;
  /** Scopes to request; empty means the profile's default scopes. */
  scopes: string[];
  /** Base URL of the stocks API; default `https://api.farfetch.net`. */
  stocksApiUrl: string;
  /** Page size requested from the stocks API; default 500. */
  pageSize: number;
  stocksTable: string;
  syncRunsTable: string;
}

export function readBrokerConfig(env: Env = process.env): BrokerConfig {
  return {
    tokensTable: required(env, ENV.tokensTable),
    secretPrefix: optional(env, ENV.secretPrefix) ?? DEFAULT_SECRET_PREFIX,
    defaultTokenLifetimeSecs:
      positiveInteger(env, ENV.defaultTokenLifetimeSecs) ?? DEFAULT_TOKEN_LIFETIME_SECS,
    maxTokenLifetimeSecs: positiveInteger(env, ENV.maxTokenLifetimeSecs) ?? MAX_TOKEN_LIFETIME_SECS,
  };
}

export function readStockSyncConfig(env: Env = process.env): StockSyncConfig {
  return {
    tokenBrokerFunction: required(env, ENV.tokenBrokerFunction),
    client: optional(env, ENV.stockSyncClient) ?? DEFAULT_STOCK_SYNC_CLIENT,
    scopes: (optional(env, ENV.stockSyncScopes) ?? '').split(/\s+/).filter(Boolean),
    stocksApiUrl: url(env, ENV.stocksApiUrl) ?? DEFAULT_STOCKS_API_URL,
    pageSize: positiveInteger(env, ENV.stocksPageSize) ?? STOCKS_PAGE_SIZE,
    stocksTable: required(env, ENV.stocksTable),
    syncRunsTable: required(env, ENV.syncRunsTable),
  };
}

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function required(env: Env, name: string): string {
  const value = optional(env, name);
  if (value === undefined) throw new ConfigurationError(name, 'is not set');
  return value;
}

function positiveInteger(env: Env, name: string): number | undefined {
  const value = optional(env, name);
  if (value === undefined) return undefined;
  if (!/^[1-9]\d{0,8}$/.test(value)) {
    throw new ConfigurationError(name, 'must be a positive whole number');
  }
  return Number(value);
}

function url(env: Env, name: string): string | undefined {
  const value = optional(env, name);
  if (value === undefined) return undefined;
  if (!URL.canParse(value)) throw new ConfigurationError(name, 'must be an absolute URL');
  return value.replace(/\/+$/, '');
}
