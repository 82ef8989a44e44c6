/**
 * When a token stops being served. A token is handed out only while its
 * expiry minus a buffer lies in the future, so a caller never receives a
 * token that expires while its request is in flight. The buffer is
 * min(60 s, 10 % of the lifetime): short-lived tokens keep most of their life.
 */
import { EXPIRY_BUFFER_MAX_SECS, EXPIRY_BUFFER_RATIO } from './constants.js';

export function expiryBufferSecs(lifetimeSecs: number): number {
  return Math.min(EXPIRY_BUFFER_MAX_SECS, lifetimeSecs * EXPIRY_BUFFER_RATIO);
}

/** True while `nowMs` is before `expiresAt` (epoch seconds) minus the buffer. */
export function isServable(
  token: { expiresAt: number; lifetimeSecs: number },
  nowMs: number,
): boolean {
  const usableUntilMs = (token.expiresAt - expiryBufferSecs(token.lifetimeSecs)) * 1000;
  return nowMs < usableUntilMs;
}
