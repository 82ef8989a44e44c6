/**
 * Typed errors of the product. Each carries a stable `code` that callers may
 * branch on, says whether a retry may help, and keeps its origin as `cause`.
 * Messages name the field, client or secret at fault, never a secret value
 * or a token.
 */

/** Stable error codes of the token broker, as documented in the README. */
export type BrokerErrorCode =
  | 'invalid_request'
  | 'unknown_client'
  | 'invalid_profile'
  | 'invalid_client'
  | 'invalid_scope'
  | 'unauthorized_client'
  | 'invalid_grant'
  | 'unsupported_grant_type'
  | 'access_denied'
  | 'token_request_refused'
  | 'invalid_token_reply'
  | 'token_endpoint_unavailable'
  | 'secret_unavailable'
  | 'cache_unavailable'
  | 'broker_unavailable';

interface ErrorDetails {
  retryable?: boolean;
  /** How long the caller should wait before trying again, when known. */
  retryAfterSecs?: number;
  cause?: unknown;
}

/** A failure of the broker that a caller may act on by its `code`. */
export class BrokerError extends Error {
  override readonly name: string = 'BrokerError';
  readonly code: BrokerErrorCode;
  readonly retryable: boolean;
  readonly retryAfterSecs?: number;

  constructor(code: BrokerErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, { cause: details.cause });
    this.code = code;
    this.retryable = details.retryable ?? false;
    if (details.retryAfterSecs !== undefined) this.retryAfterSecs = details.retryAfterSecs;
  }

  /** The shape returned to callers: `{ error: { code, message, retryable } }`. */
  toReply(): BrokerErrorReply {
    const error: BrokerErrorReply['error'] = {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
    };
    if (this.retryAfterSecs !== undefined) error.retryAfterSecs = this.retryAfterSecs;
    return { error };
  }
}

export interface BrokerErrorReply {
  error: { code: BrokerErrorCode; message: string; retryable: boolean; retryAfterSecs?: number };
}

/** An event, request or record that fails validation; `field` names the culprit. */
export class ValidationError extends Error {
  override readonly name: string = 'ValidationError';
  readonly code = 'invalid_request';

  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** A required environment variable is missing or malformed. */
export class ConfigurationError extends Error {
  override readonly name: string = 'ConfigurationError';
  readonly code = 'configuration';

  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`environment variable ${variable} ${reason}`);
  }
}

/** A private key that cannot sign with the algorithm its profile names; carries no key material. */
export class SigningKeyError extends Error {
  override readonly name: string = 'SigningKeyError';
}

/** The stock sync could not complete; the run summary says how far it got. */
export class StockSyncError extends Error {
  override readonly name: string = 'StockSyncError';

  constructor(
    readonly code:
      | 'stocks_api_unavailable'
      | 'stocks_api_unauthorized'
      | 'invalid_page'
      | 'catalogue_changed'
      | 'catalogue_incomplete'
      | 'write_incomplete'
      | 'token_unavailable'
      | 'run_failed',
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** The name of a thrown value, for logs and messages; never its message. */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'UnknownError';
}
