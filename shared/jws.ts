/**
 * Compact JWS signing (RFC 7515 §7.1) for the client assertions of
 * `private_key_jwt`, on `node:crypto` alone.
 *
 * Written here rather than taken from `jose`: the broker only ever signs, with
 * four algorithms, and `node:crypto` already does every cryptographic step;
 * what is left is base64url and a dot. `jose` would add about 17 KiB to the
 * broker's bundle, paid at every cold start by every profile, including the
 * ones that use a client secret. Nothing here verifies a signature; the tests
 * check every algorithm with `jose` and against oidc-provider.
 *
 * Algorithms (RFC 7518 §3.3–3.5, RFC 8037 §3.1):
 * - `RS256`: RSASSA-PKCS1-v1_5 with SHA-256, RSA key of at least 2048 bits;
 * - `PS256`: RSASSA-PSS with SHA-256, salt as long as the hash, on the same
 *   kind of RSA key (a key restricted to PSS in its PKCS #8 is refused, as
 *   WebCrypto verifiers refuse it too);
 * - `ES256`: ECDSA on P-256 with SHA-256, signature as `r || s`, not DER;
 * - `EdDSA`: Ed25519 (RFC 8037 §3.1; Ed448 is left out, as most verifiers
 *   built on WebCrypto cannot check it).
 */
import { constants, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import type { SigningAlg } from './client-profile.js';
import { SigningKeyError } from './errors.js';

/** RFC 7518 §3.3 and §3.5: shorter RSA keys must not be used. */
export const MIN_RSA_MODULUS_BITS = 2048;

/**
 * Reads a PEM private key (profiles hold PKCS #8) and checks that it fits `alg`: the key type,
 * the curve for `ES256`, the modulus length for the RSA algorithms.
 */
export function signingKey(pem: string, alg: SigningAlg): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (error) {
    throw new SigningKeyError('not a readable PEM private key', { cause: error });
  }
  const problem = unfitFor(key, alg);
  if (problem) throw new SigningKeyError(`a ${alg} key must be ${problem}`);
  return key;
}

function unfitFor(key: KeyObject, alg: SigningAlg): string | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  switch (alg) {
    case 'RS256':
    case 'PS256':
      return key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= MIN_RSA_MODULUS_BITS
        ? undefined
        : `an RSA key of at least ${MIN_RSA_MODULUS_BITS} bits`;
    case 'ES256':
      return key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1'
        ? undefined
        : 'an EC key on P-256';
    case 'EdDSA':
      return key.asymmetricKeyType === 'ed25519' ? undefined : 'an Ed25519 key';
  }
}

/** `header.payload.signature`, each part base64url without padding (RFC 7515 §7.1). */
export async function signCompact(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: KeyObject,
): Promise<string> {
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const signature = await signAsync(header.alg as SigningAlg, Buffer.from(signingInput), key);
  return `${signingInput}.${signature.toString('base64url')}`;
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}

/** Signs off the event loop (the callback form runs in libuv's thread pool). */
function signAsync(alg: SigningAlg, data: Buffer, key: KeyObject): Promise<Buffer> {
  const [digest, options] = signatureParameters(alg);
  return new Promise((resolve, reject) => {
    sign(digest, data, { key, ...options }, (error, signature) =>
      error ? reject(error) : resolve(signature),
    );
  });
}

function signatureParameters(alg: SigningAlg): [string | null, Record<string, unknown>] {
  switch (alg) {
    case 'RS256':
      return ['sha256', { padding: constants.RSA_PKCS1_PADDING }];
    case 'PS256':
      return [
        'sha256',
        { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
      ];
    case 'ES256':
      return ['sha256', { dsaEncoding: 'ieee-p1363' }];
    case 'EdDSA':
      // Ed25519 hashes internally; node takes no digest for it.
      return [null, {}];
  }
}
