import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { compactVerify, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { SigningKeyError } from '../../shared/errors.js';
import { signCompact, signingKey } from '../../shared/jws.js';

type Alg = 'RS256' | 'PS256' | 'ES256' | 'EdDSA';

function pemOf(privateKey: KeyObject): string {
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

const KEYS = {
  rsa2048: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  rsa1024: generateKeyPairSync('rsa', { modulusLength: 1024 }),
  rsaPss: generateKeyPairSync('rsa-pss', { modulusLength: 2048 }),
  p256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  p384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  ed25519: generateKeyPairSync('ed25519'),
  ed448: generateKeyPairSync('ed448'),
};

const SIGNABLE: [Alg, keyof typeof KEYS][] = [
  ['RS256', 'rsa2048'],
  ['PS256', 'rsa2048'],
  ['ES256', 'p256'],
  ['EdDSA', 'ed25519'],
];

describe('signCompact', () => {
  it.each(SIGNABLE)('signs %s with a %s key so that jose verifies it', async (alg, name) => {
    const pair = KEYS[name];
    const key = signingKey(pemOf(pair.privateKey), alg);

    const jws = await signCompact({ alg, typ: 'JWT', kid: 'k1' }, { iss: 'c', n: 1 }, key);

    const verified = await compactVerify(jws, pair.publicKey, { algorithms: [alg] });
    expect(verified.protectedHeader).toEqual({ alg, typ: 'JWT', kid: 'k1' });
    expect(JSON.parse(new TextDecoder().decode(verified.payload))).toEqual({ iss: 'c', n: 1 });
  });

  it('writes three base64url parts without padding', async () => {
    const key = signingKey(pemOf(KEYS.p256.privateKey), 'ES256');

    const jws = await signCompact({ alg: 'ES256' }, { sub: '?>~ü' }, key);

    const parts = jws.split('.');
    expect(parts).toHaveLength(3);
    for (const part of parts) expect(part).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeProtectedHeader(jws)).toEqual({ alg: 'ES256' });
    // ES256 signatures are r || s, 64 bytes (RFC 7518 §3.4), not DER.
    expect(Buffer.from(parts[2]!, 'base64url')).toHaveLength(64);
  });

  it('is refused by jose under a key other than the signer', async () => {
    const key = signingKey(pemOf(KEYS.rsa2048.privateKey), 'RS256');
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });

    const jws = await signCompact({ alg: 'RS256' }, {}, key);

    await expect(compactVerify(jws, other.publicKey)).rejects.toThrow();
  });
});

describe('signingKey', () => {
  it.each([
    ['RS256', 'rsa1024', /at least 2048 bits/],
    ['PS256', 'rsa1024', /at least 2048 bits/],
    ['RS256', 'rsaPss', /RSA key/],
    ['RS256', 'p256', /RSA key/],
    ['ES256', 'p384', /P-256/],
    ['ES256', 'rsa2048', /P-256/],
    ['PS256', 'rsaPss', /RSA key/],
    ['EdDSA', 'p256', /Ed25519/],
    ['EdDSA', 'ed448', /Ed25519/],
  ] as [Alg, keyof typeof KEYS, RegExp][])(
    'refuses %s with a %s key, saying what the key must be',
    (alg, name, reason) => {
      const act = () => signingKey(pemOf(KEYS[name].privateKey), alg);

      expect(act).toThrow(SigningKeyError);
      expect(act).toThrow(reason);
    },
  );

  it('refuses text that is no private key, without repeating it', () => {
    const notAKey = '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----';

    const error = (() => {
      try {
        signingKey(notAKey, 'RS256');
      } catch (caught) {
        return caught as Error;
      }
    })();

    expect(error).toBeInstanceOf(SigningKeyError);
    expect(error?.message).not.toContain('bm90IGEga2V5');
  });
});
