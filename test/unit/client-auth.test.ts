import { generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  CLIENT_ASSERTION_LIFETIME_SECS,
  clientCredentials,
  JWT_BEARER_ASSERTION_TYPE,
} from '../../shared/client-auth.js';
import { parseClientProfile, type ClientProfile } from '../../shared/client-profile.js';
import { BrokerError } from '../../shared/errors.js';

const NOW_SECS = Math.floor(Date.now() / 1000);
const TOKEN_URL = 'https://sts.example.test/connect/token';

function rsaKeys() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function jwtProfile(privateKey: string, extra: Record<string, unknown> = {}): ClientProfile {
  return parseClientProfile(
    JSON.stringify({
      client_id: 'jwt_client',
      token_url: TOKEN_URL,
      auth_method: 'private_key_jwt',
      private_key: privateKey,
      ...extra,
    }),
  );
}

describe('clientCredentials with private_key_jwt (RFC 7523 §2.2)', () => {
  const keys = rsaKeys();

  it('sends a signed assertion naming the client and the token endpoint, and no secret', async () => {
    const { form, headers } = await clientCredentials(jwtProfile(keys.privatePem), NOW_SECS);

    expect(headers).toEqual({});
    expect(form.client_assertion_type).toBe(JWT_BEARER_ASSERTION_TYPE);
    expect(form.client_id).toBe('jwt_client');
    expect(form).not.toHaveProperty('client_secret');
    const { payload } = await jwtVerify(
      form.client_assertion!,
      await importSPKI(keys.publicPem, 'RS256'),
      { issuer: 'jwt_client', subject: 'jwt_client', audience: TOKEN_URL },
    );
    expect(payload.exp! - payload.iat!).toBe(CLIENT_ASSERTION_LIFETIME_SECS);
    expect(payload.iat).toBe(NOW_SECS);
    expect(payload.jti).toEqual(expect.any(String));
  });

  it('uses a fresh jti for every assertion', async () => {
    const profile = jwtProfile(keys.privatePem);

    const first = await clientCredentials(profile, NOW_SECS);
    const second = await clientCredentials(profile, NOW_SECS);

    expect(first.form.client_assertion).not.toBe(second.form.client_assertion);
  });

  it('puts the key id and algorithm in the header', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

    const { form } = await clientCredentials(
      jwtProfile(pem, { signing_alg: 'ES256', key_id: 'key-2026' }),
      NOW_SECS,
    );

    expect(decodeProtectedHeader(form.client_assertion!)).toMatchObject({
      alg: 'ES256',
      kid: 'key-2026',
    });
  });

  it('reports a key that does not fit its algorithm as invalid_profile, without the key', async () => {
    // Profiles are checked when parsed; this is the signer's own check behind that.
    const profile: ClientProfile = { ...jwtProfile(keys.privatePem), signingAlg: 'ES256' };

    const error = await clientCredentials(profile, NOW_SECS).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(BrokerError);
    expect(error).toMatchObject({ code: 'invalid_profile' });
    expect((error as Error).message).not.toContain('PRIVATE KEY');
  });
});

describe('parseClientProfile for private_key_jwt', () => {
  it.each([
    ['private_key', {}],
    ['private_key', { private_key: 'not a pem' }],
    ['signing_alg', { private_key: rsaKeys().privatePem, signing_alg: 'HS256' }],
    ['private_key', { private_key: rsaKeys().privatePem, signing_alg: 'ES256' }],
    [
      'private_key',
      {
        private_key: generateKeyPairSync('ed25519')
          .privateKey.export({ type: 'pkcs8', format: 'pem' })
          .toString(),
        signing_alg: 'RS256',
      },
    ],
  ])('names %s when it is wrong', (field, extra) => {
    expect(() =>
      parseClientProfile(
        JSON.stringify({
          client_id: 'c',
          token_url: TOKEN_URL,
          auth_method: 'private_key_jwt',
          ...extra,
        }),
      ),
    ).toThrow(expect.objectContaining({ field }));
  });

  it('does not require a client secret', () => {
    expect(jwtProfile(rsaKeys().privatePem).clientSecret).toBeUndefined();
  });
});
