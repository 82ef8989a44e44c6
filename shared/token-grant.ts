/** A validated access token, as the broker caches and serves it. */
export interface TokenGrant {
  accessToken: string;
  /** Always `Bearer`, whatever case the token server used (RFC 6750). */
  tokenType: 'Bearer';
  /** Epoch seconds, to the millisecond: the request's send time plus the lifetime granted. */
  expiresAt: number;
  /** Lifetime in seconds as granted (after defaulting and capping). */
  lifetimeSecs: number;
  /** Scope as granted; the requested scope when the reply omits it (RFC 6749 §5.1). */
  scope: string;
}
