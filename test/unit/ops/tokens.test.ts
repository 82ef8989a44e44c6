import { describe, expect, it } from 'vitest';
import { tokenKeyStatus } from '../../../ops/tokens.js';

const NOW_MS = Date.parse('2026-12-04T02:00:00Z');
const NOW_SECS = NOW_MS / 1000;

const fullItem = {
  cacheKey: { S: 'a'.repeat(64) },
  profile: { S: 'farfetch' },
  clientId: { S: 'ff_amazing_client' },
  requestedScope: { S: 'stocks' },
  scope: { S: 'stocks' },
  tokenHash: { S: '0123456789ab' },
  expiresAt: { N: String(NOW_SECS + 2_352) },
  lifetimeSecs: { N: '2400' },
  version: { N: '4' },
};

describe('tokenKeyStatus', () => {
  it('reports a served token with its hash and time left, lease free', () => {
    expect(tokenKeyStatus(fullItem, NOW_MS)).toEqual({
      cacheKey: 'a'.repeat(64),
      profile: 'farfetch',
      clientId: 'ff_amazing_client',
      scopes: 'stocks',
      token: 'valid',
      tokenHash: '0123456789ab',
      expiresAt: NOW_SECS + 2_352,
      secondsLeft: 2_352,
      lease: 'free',
      failures: 0,
      version: 4,
    });
  });

  it('tells a token inside its expiry buffer from one past its expiry', () => {
    const expiring = { ...fullItem, expiresAt: { N: String(NOW_SECS + 30) } };
    const expired = { ...fullItem, expiresAt: { N: String(NOW_SECS - 5) } };

    expect(tokenKeyStatus(expiring, NOW_MS)).toMatchObject({ token: 'expiring', secondsLeft: 30 });
    expect(tokenKeyStatus(expired, NOW_MS)).toMatchObject({ token: 'expired', secondsLeft: -5 });
  });

  it('reports a held lease, a lapsed one and a running cooldown', () => {
    const held = { ...fullItem, leaseExpiresAtMs: { N: String(NOW_MS + 4_000) } };
    const lapsed = { ...fullItem, leaseExpiresAtMs: { N: String(NOW_MS - 1) } };
    const cooling = {
      cacheKey: fullItem.cacheKey,
      cooldownUntilMs: { N: String(NOW_MS + 90_000) },
      failures: { N: '3' },
    };

    expect(tokenKeyStatus(held, NOW_MS)).toMatchObject({ lease: 'held', leaseMsLeft: 4_000 });
    expect(tokenKeyStatus(lapsed, NOW_MS).lease).toBe('lapsed');
    expect(tokenKeyStatus(cooling, NOW_MS)).toMatchObject({
      token: 'none',
      cooldownMsLeft: 90_000,
      failures: 3,
      scopes: '',
    });
  });

  it('reports an invalidated item, which keeps its profile, as holding no token', () => {
    const { tokenHash: _hash, expiresAt: _expiresAt, lifetimeSecs: _lifetime, ...rest } = fullItem;

    const status = tokenKeyStatus(rest, NOW_MS);

    expect(status).toMatchObject({ profile: 'farfetch', token: 'none' });
    expect(status.tokenHash).toBeUndefined();
    expect(status.secondsLeft).toBeUndefined();
  });

  it('never carries an access token, even if one is in the item', () => {
    const status = tokenKeyStatus({ ...fullItem, accessToken: { S: 'the-access-token' } }, NOW_MS);

    expect(JSON.stringify(status)).not.toContain('the-access-token');
  });
});
