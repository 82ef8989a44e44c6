/**
 * How a token or a reply body may be identified without being revealed: a
 * short SHA-256 prefix for tokens, and a trimmed, credential-free preview for
 * bodies that a log must characterise (a proxy's HTML page, say).
 */
import { createHash } from 'node:crypto';
import { TOKEN_HASH_HEX_CHARS } from './constants.js';

/** The first 12 hex characters of the token's SHA-256: enough to tell tokens apart. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, TOKEN_HASH_HEX_CHARS);
}

/** Whole SHA-256 of a value, hex: for cache keys, never for display. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

const PREVIEW_CHARS = 60;

/**
 * A short, single-line prefix of a reply body, with anything that looks like
 * a credential or a long opaque string masked. Used only for replies that are
 * not token replies (HTML, plain text), to say what answered.
 */
export function bodyPreview(body: string, secrets: readonly string[] = []): string {
  // Secrets are removed from the whole body before it is cut, so a secret
  // straddling the cut can never survive in part.
  return redactSecrets(body, secrets)
    .replace(/[A-Za-z0-9+/=_.-]{24,}/g, '[redacted]')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, PREVIEW_CHARS);
}

/** `text` with every occurrence of each secret replaced by `[redacted]`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let redacted = text;
  for (const secret of secrets) {
    if (secret) redacted = redacted.split(secret).join('[redacted]');
  }
  return redacted;
}
