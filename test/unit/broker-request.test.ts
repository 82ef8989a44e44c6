import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isRefreshEvent,
  MAX_REFRESH_CLIENTS,
  parseBrokerRequest,
  parseRefreshRequest,
} from '../../shared/broker-request.js';
import { ValidationError } from '../../shared/errors.js';

function fieldOf(event: unknown): string {
  try {
    parseBrokerRequest(event);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).field;
  }
  throw new Error('expected a validation error');
}

describe('parseBrokerRequest', () => {
  it('accepts a client alone', () => {
    expect(parseBrokerRequest({ client: 'farfetch' })).toEqual({ client: 'farfetch' });
  });

  it('sorts and deduplicates scopes', () => {
    expect(parseBrokerRequest({ client: 'c', scopes: ['write:b', 'read:a', 'write:b'] })).toEqual({
      client: 'c',
      scopes: ['read:a', 'write:b'],
    });
  });

  it('accepts a rejected token hash', () => {
    expect(parseBrokerRequest({ client: 'c', rejectedTokenHash: '0123456789ab' })).toMatchObject({
      rejectedTokenHash: '0123456789ab',
    });
  });

  it.each([
    ['event', null],
    ['event', []],
    ['event', 'farfetch'],
    ['client', {}],
    ['client', { client: 5 }],
    ['client', { client: '../admin' }],
    ['client', { client: 'arn:aws:secretsmanager:eu-west-1:1:secret:x' }],
    ['client', { client: 'token-broker/clients/x' }],
    ['client', { client: '*' }],
    ['scopes', { client: 'c', scopes: 'stocks' }],
    ['scopes', { client: 'c', scopes: [] }],
    ['scopes[0]', { client: 'c', scopes: [1] }],
    ['scopes[1]', { client: 'c', scopes: ['a', 'b c'] }],
    ['scopes[0]', { client: 'c', scopes: ['\u0000'] }],
    ['scopes', { client: 'c', scopes: Array.from({ length: 1000 }, (_, i) => `s${i}`) }],
    ['rejectedTokenHash', { client: 'c', rejectedTokenHash: 'at-raw-token' }],
    ['"extra"', { client: 'c', extra: 1 }],
  ])('names %s when the event is %j', (field, event) => {
    expect(fieldOf(event)).toBe(field);
  });

  it('answers any JSON value with a request or a ValidationError, never a crash', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (event) => {
        try {
          const request = parseBrokerRequest(event);
          expect(typeof request.client).toBe('string');
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError);
          expect((error as Error).message.length).toBeLessThan(300);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('answers objects shaped like requests with a request or a ValidationError', () => {
    const event = fc.record(
      {
        client: fc.oneof(fc.string(), fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/), fc.integer()),
        scopes: fc.oneof(fc.array(fc.string({ maxLength: 300 }), { maxLength: 80 }), fc.string()),
        rejectedTokenHash: fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-f]{12}$/)),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(event, (value) => {
        try {
          parseBrokerRequest(value);
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

function refreshFieldOf(event: unknown): string {
  try {
    parseRefreshRequest(event);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).field;
  }
  throw new Error('expected a validation error');
}

describe('parseBrokerRequest with empty scopes', () => {
  it('refuses an empty scopes array and says to leave it out for the default', () => {
    expect(() => parseBrokerRequest({ client: 'c', scopes: [] })).toThrow(
      "scopes: must not be empty; leave it out for the profile's default",
    );
  });
});

describe('isRefreshEvent', () => {
  it.each([
    [{ action: 'refresh', clients: ['farfetch'] }, true],
    [{ action: 'anything' }, true],
    [{ client: 'farfetch' }, false],
    [null, false],
    ['refresh', false],
  ])('answers %j with %s', (event, expected) => {
    expect(isRefreshEvent(event)).toBe(expected);
  });
});

describe('parseRefreshRequest', () => {
  it('accepts a refresh of named profiles and drops repeated names', () => {
    expect(
      parseRefreshRequest({ action: 'refresh', clients: ['farfetch', 'other', 'farfetch'] }),
    ).toEqual({ action: 'refresh', clients: ['farfetch', 'other'] });
  });

  it('accepts a look-ahead in whole seconds', () => {
    expect(
      parseRefreshRequest({ action: 'refresh', clients: ['farfetch'], withinSecs: 360 }),
    ).toEqual({ action: 'refresh', clients: ['farfetch'], withinSecs: 360 });
  });

  // What serverless.yml's schedule input holds when its params are given with --param.
  it('reads params given per run as text: a comma-separated list and a digits-only number', () => {
    expect(
      parseRefreshRequest({ action: 'refresh', clients: 'farfetch, other', withinSecs: '600' }),
    ).toEqual({ action: 'refresh', clients: ['farfetch', 'other'], withinSecs: 600 });
  });

  it(`accepts up to ${MAX_REFRESH_CLIENTS} profiles`, () => {
    const clients = Array.from({ length: MAX_REFRESH_CLIENTS }, (_, i) => `client-${i}`);

    expect(parseRefreshRequest({ action: 'refresh', clients }).clients).toHaveLength(
      MAX_REFRESH_CLIENTS,
    );
  });

  it.each([
    ['action', { action: 'warm', clients: ['farfetch'] }],
    ['action', { clients: ['farfetch'] }],
    ['clients', { action: 'refresh' }],
    ['clients', { action: 'refresh', clients: [] }],
    ['clients[1]', { action: 'refresh', clients: 'farfetch,' }],
    [
      'clients',
      {
        action: 'refresh',
        clients: Array.from({ length: MAX_REFRESH_CLIENTS + 1 }, (_, i) => `c${i}`),
      },
    ],
    ['clients[1]', { action: 'refresh', clients: ['farfetch', '../admin'] }],
    ['clients[0]', { action: 'refresh', clients: [5] }],
    ['"client"', { action: 'refresh', clients: ['farfetch'], client: 'x' }],
    ['withinSecs', { action: 'refresh', clients: ['farfetch'], withinSecs: '36O' }],
    ['withinSecs', { action: 'refresh', clients: ['farfetch'], withinSecs: '' }],
    ['withinSecs', { action: 'refresh', clients: ['farfetch'], withinSecs: -1 }],
    ['withinSecs', { action: 'refresh', clients: ['farfetch'], withinSecs: 1.5 }],
    ['withinSecs', { action: 'refresh', clients: ['farfetch'], withinSecs: 86_401 }],
  ])('names %s when the event is %j', (field, event) => {
    expect(refreshFieldOf(event)).toBe(field);
  });

  // It takes `unknown`, like parseBrokerRequest, so a non-object must be a ValidationError too.
  it.each([null, undefined, 'refresh', 7])('refuses %j with a ValidationError', (event) => {
    expect(() => parseRefreshRequest(event)).toThrow(ValidationError);
  });

  it('answers any object with a refresh request or a ValidationError, never a crash', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (event) => {
        try {
          expect(parseRefreshRequest(event).action).toBe('refresh');
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
