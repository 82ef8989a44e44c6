/**
 * Client authentication at the token endpoint, one way only, as servers
 * reject requests that present credentials twice:
 *
 * - `client_secret_post`: `client_id` and `client_secret` as form fields.
 * - `client_secret_basic`: HTTP Basic with id and secret form-urlencoded
 *   before base64 (RFC 6749 §2.3.1), so secrets holding `+ / : % =` or spaces
 *   survive.
 * - `private_key_jwt`: a short-lived JWT signed with the client's key, sent
 *   as `client_assertion` (RFC 7523 §2.2, OpenID Connect Core §9), signed
 *   by `jws.ts`.
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import type { ClientProfile, SigningAlg } from './client-profile.js';
import { BrokerError } from './errors.js';
import { signCompact, signingKey } from './jws.js';
import { sha256Hex } from './redact.js';

/** Lifetime of a client assertion: long enough to cross the network once. */
export const CLIENT_ASSERTION_LIFETIME_SECS = 60;

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface ClientCredentials {
  form: Record<string, string>;
  headers: Record<string, string>;
}

/** The form fields and headers that authenticate `profile` at `nowSecs`. */
export async function clientCredentials(
  profile: ClientProfile,
  nowSecs: number,
): Promise<ClientCredentials> {
  switch (profile.authMethod) {
    case 'client_secret_basic': {
      const pair = `${formEncode(profile.clientId)}:${formEncode(profile.clientSecret ?? '')}`;
      return {
        form: {},
        headers: { authorization: `Basic ${Buffer.from(pair).toString('base64')}` },
      };
    }
    case 'private_key_jwt':
      return {
        form: {
          client_id: profile.clientId,
          client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
          client_assertion: await clientAssertion(profile, nowSecs),
        },
        headers: {},
      };
    default:
      return {
        form: { client_id: profile.clientId, client_secret: profile.clientSecret ?? '' },
        headers: {},
      };
  }
}

/**
 * Every form in which the profile's credential may come back in a reply: as
 * is, percent-encoded, form-encoded (as `client_secret_post` sends it) and as
 * the Basic credential. Messages and logs are redacted of all of them.
 */
export function credentialForms(profile: ClientProfile): string[] {
  const forms: string[] = [];
  if (profile.clientSecret) {
    const pair = `${formEncode(profile.clientId)}:${formEncode(profile.clientSecret)}`;
    forms.push(
      profile.clientSecret,
      encodeURIComponent(profile.clientSecret),
      formEncode(profile.clientSecret),
      Buffer.from(pair).toString('base64'),
      Buffer.from(profile.clientSecret).toString('base64'),
    );
  }
  if (profile.privateKey) forms.push(profile.privateKey);
  // Longest first, so a longer form is never half-replaced by a shorter one.
  return [...new Set(forms)].sort((a, b) => b.length - a.length);
}

/** `application/x-www-form-urlencoded` encoding of one value. */
export function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/** Keys already read and checked, by algorithm and a hash of their PEM: each is parsed once. */
const signingKeys = new Map<string, KeyObject>();

async function clientAssertion(profile: ClientProfile, nowSecs: number): Promise<string> {
  const alg = profile.signingAlg ?? 'RS256';
  const key = keyFor(profile.privateKey ?? '', alg, profile.clientId);
  const header = { alg, typ: 'JWT', ...(profile.keyId ? { kid: profile.keyId } : {}) };
  const claims = {
    iss: profile.clientId,
    sub: profile.clientId,
    aud: profile.tokenUrl,
    jti: randomUUID(),
    iat: nowSecs,
    exp: nowSecs + CLIENT_ASSERTION_LIFETIME_SECS,
  };
  return signCompact(header, claims, key);
}

function keyFor(pem: string, alg: SigningAlg, clientId: string): KeyObject {
  const id = `${alg}:${sha256Hex(pem)}`;
  let key = signingKeys.get(id);
  if (!key) {
    try {
      key = signingKey(pem, alg);
    } catch (error) {
      throw new BrokerError(
        'invalid_profile',
        `private_key of client ${clientId} cannot be used for ${alg}`,
        { cause: error },
      );
    }
    signingKeys.set(id, key);
  }
  return key;
}
