/*
 * private_key_jwt (RFC 7523 §2.2) against the real oidc-provider token
 * server: the broker's token endpoint client signs an assertion with the key
 * from the client profile, and the server verifies it with the public key it
 * has registered for the client.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClientProfile } from '../../shared/client-profile.js';
import { TokenEndpointClient } from '../../shared/token-endpoint.js';
import { startTokenServer, type TokenServer } from '../../local/token-server.js';
import { LogRecorder } from '../helpers/log-recorder.js';

type Alg = 'RS256' | 'PS256' | 'ES256' | 'EdDSA';

function generate(alg: Alg) {
  switch (alg) {
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'EdDSA':
      return generateKeyPairSync('ed25519');
    default:
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
  }
}

function keyPair(alg: Alg, kid: string) {
  const { privateKey, publicKey } = generate(alg);
  return {
    alg,
    kid,
    pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
  };
}

const registeredKeys = (['ES256', 'RS256', 'PS256', 'EdDSA'] as const).map((alg) =>
  keyPair(alg, `k-${alg}`),
);
const registered = registeredKeys[0]!;
const stranger = keyPair('ES256', registered.kid);
let server: TokenServer;

beforeAll(async () => {
  server = await startTokenServer({
    clients: [
      {
        clientId: 'jwt_client',
        authMethod: 'private_key_jwt',
        jwks: { keys: registeredKeys.map((key) => key.jwk) },
        scopes: ['stocks'],
      },
    ],
    resourceServer: { clientId: 'rs', clientSecret: 'rs-secret-for-introspection' },
  });
});

afterAll(async () => {
  await server?.stop();
});

function profile(key: { pem: string; alg: Alg; kid: string }) {
  return parseClientProfile(
    JSON.stringify({
      client_id: 'jwt_client',
      token_url: server.tokenUrl,
      auth_method: 'private_key_jwt',
      private_key: key.pem,
      signing_alg: key.alg,
      key_id: key.kid,
      scopes: ['stocks'],
    }),
  );
}

describe('private_key_jwt against oidc-provider', () => {
  it.each(registeredKeys)('gets a token with an assertion signed $alg', async (key) => {
    const client = new TokenEndpointClient({ log: new LogRecorder() });

    const grant = await client.requestToken(profile(key), ['stocks']);

    expect(grant).toMatchObject({ tokenType: 'Bearer', lifetimeSecs: 2400, scope: 'stocks' });
  });

  it('is refused as invalid_client when signed by another key, and the key never shows', async () => {
    const log = new LogRecorder();
    const client = new TokenEndpointClient({ log });

    const error = await client
      .requestToken(profile(stranger), ['stocks'])
      .catch((e: unknown) => e as Error);

    expect(error).toMatchObject({ code: 'invalid_client', retryable: false });
    expect(JSON.stringify({ message: (error as Error).message, log: log.text() })).not.toContain(
      'PRIVATE KEY',
    );
  });
});
