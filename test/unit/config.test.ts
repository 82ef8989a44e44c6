import { describe, expect, it } from 'vitest';
import { readBrokerConfig, readStockSyncConfig } from '../../shared/config.js';
import { ConfigurationError } from '../../shared/errors.js';

const syncEnv = {
  TOKEN_BROKER_FUNCTION: 'token-broker-prod-tokenBroker',
  STOCKS_TABLE: 'stocks',
  SYNC_RUNS_TABLE: 'runs',
};

describe('readBrokerConfig', () => {
  it('applies the documented defaults', () => {
    expect(readBrokerConfig({ TOKENS_TABLE: 't' })).toEqual({
      tokensTable: 't',
      secretPrefix: 'token-broker/clients/',
      defaultTokenLifetimeSecs: 300,
      maxTokenLifetimeSecs: 86_400,
    });
  });

  it('names the missing variable', () => {
    expect(() => readBrokerConfig({})).toThrow(
      new ConfigurationError('TOKENS_TABLE', 'is not set'),
    );
  });

  it.each(['0', '-5', 'ten', '1.5'])('refuses DEFAULT_TOKEN_LIFETIME_SECS=%s', (value) => {
    expect(() =>
      readBrokerConfig({ TOKENS_TABLE: 't', DEFAULT_TOKEN_LIFETIME_SECS: value }),
    ).toThrow(/DEFAULT_TOKEN_LIFETIME_SECS/);
  });
});

describe('readStockSyncConfig', () => {
  it('defaults to the Farfetch API and the farfetch profile', () => {
    expect(readStockSyncConfig(syncEnv)).toMatchObject({
      stocksApiUrl: 'https://api.farfetch.net',
      client: 'farfetch',
      scopes: [],
      pageSize: 500,
    });
  });

  it('splits scopes and trims a trailing slash from the API URL', () => {
    const config = readStockSyncConfig({
      ...syncEnv,
      STOCK_SYNC_SCOPES: 'stocks  orders',
      STOCKS_API_URL: 'http://127.0.0.1:9/',
    });

    expect(config.scopes).toEqual(['stocks', 'orders']);
    expect(config.stocksApiUrl).toBe('http://127.0.0.1:9');
  });

  it.each(['TOKEN_BROKER_FUNCTION', 'STOCKS_TABLE', 'SYNC_RUNS_TABLE'])(
    'names %s when missing',
    (name) => {
      expect(() => readStockSyncConfig({ ...syncEnv, [name]: '' })).toThrow(name);
    },
  );

  it('refuses a relative API URL', () => {
    expect(() => readStockSyncConfig({ ...syncEnv, STOCKS_API_URL: '/stocks' })).toThrow(
      'STOCKS_API_URL',
    );
  });
});
