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

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    jwk: { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' },
  };
}

const registered = keyPair();
const stranger = keyPair();
let server: TokenServer;

beforeAll(async () => {
  server = await startTokenServer({
    clients: [
      {
        clientId: 'jwt_client',
        authMethod: 'private_key_jwt',
        jwks: { keys: [registered.jwk] },
        scopes: ['stocks'],
      },
    ],
    resourceServer: { clientId: 'rs', clientSecret: 'rs-secret-for-introspection' },
  });
});

afterAll(async () => {
  await server?.stop();
});

function profile(pem: string) {
  return parseClientProfile(
    JSON.stringify({
      client_id: 'jwt_client',
      token_url: server.tokenUrl,
      auth_method: 'private_key_jwt',
      private_key: pem,
      signing_alg: 'ES256',
      key_id: 'k1',
      scopes: ['stocks'],
    }),
  );
}

describe('private_key_jwt against oidc-provider', () => {
  it('gets a token with an assertion signed by the registered key', async () => {
    const client = new TokenEndpointClient({ log: new LogRecorder() });

    const grant = await client.requestToken(profile(registered.pem), ['stocks']);

    expect(grant).toMatchObject({ tokenType: 'Bearer', lifetimeSecs: 2400, scope: 'stocks' });
  });

  it('is refused as invalid_client when signed by another key, and the key never shows', async () => {
    const log = new LogRecorder();
    const client = new TokenEndpointClient({ log });

    const error = await client
      .requestToken(profile(stranger.pem), ['stocks'])
      .catch((e: unknown) => e as Error);

    expect(error).toMatchObject({ code: 'invalid_client', retryable: false });
    expect(JSON.stringify({ message: (error as Error).message, log: log.text() })).not.toContain(
      'PRIVATE KEY',
    );
  });
});
