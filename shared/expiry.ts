/**
 * When a token stops being served, and when it is renewed ahead of that.
 *
 * A token is handed out only while its expiry minus a buffer lies in the
 * future, so a caller never receives a token that expires while its request
 * is in flight. The buffer is min(60 s, 10 % of the lifetime): short-lived
 * tokens keep most of their life. A token is renewed ahead a little before
 * its buffer begins (see `REFRESH_AHEAD_RATIO`), while it is still served.
 */
import {
  EXPIRY_BUFFER_MAX_SECS,
  EXPIRY_BUFFER_RATIO,
  REFRESH_AHEAD_MAX_SECS,
  REFRESH_AHEAD_RATIO,
} from './constants.js';

export function expiryBufferSecs(lifetimeSecs: number): number {
  return Math.min(EXPIRY_BUFFER_MAX_SECS, lifetimeSecs * EXPIRY_BUFFER_RATIO);
}

/** The instant (epoch ms) a token stops being served: its expiry minus the buffer. */
export function servedUntilMs(token: { expiresAt: number; lifetimeSecs: number }): number {
  return (token.expiresAt - expiryBufferSecs(token.lifetimeSecs)) * 1000;
}

/** True while `nowMs` is before `expiresAt` (epoch seconds) minus the buffer. */
export function isServable(
  token: { expiresAt: number; lifetimeSecs: number },
  nowMs: number,
): boolean {
  return nowMs < servedUntilMs(token);
}

/** How far ahead of its buffer a token is renewed; defaults from `constants.ts`. */
export interface RefreshAhead {
  /** Share of the lifetime; 0 turns renewal ahead off. Default 0.05. */
  ratio?: number;
  /** Cap on the lead, in seconds. Default 300. */
  maxSecs?: number;
}

/** How long before its buffer begins a token is renewed: min(maxSecs, ratio × lifetime). */
export function refreshAheadSecs(lifetimeSecs: number, ahead: RefreshAhead = {}): number {
  const ratio = ahead.ratio ?? REFRESH_AHEAD_RATIO;
  return Math.min(ahead.maxSecs ?? REFRESH_AHEAD_MAX_SECS, lifetimeSecs * ratio);
}

/**
 * The instant (epoch ms) from which a token is due for renewal ahead. With a
 * ratio of 0 that is the end of its servable life: it is then fetched again
 * only once it is no longer served.
 */
export function refreshDueAtMs(
  token: { expiresAt: number; lifetimeSecs: number },
  ahead: RefreshAhead = {},
): number {
  const leadSecs =
    expiryBufferSecs(token.lifetimeSecs) + refreshAheadSecs(token.lifetimeSecs, ahead);
  return (token.expiresAt - leadSecs) * 1000;
}

/**
 * How long after it was requested a token falls due for renewal ahead, in
 * seconds: the period at which a busy fleet renews it.
 */
export function renewalPeriodSecs(lifetimeSecs: number, ahead: RefreshAhead = {}): number {
  return refreshDueAtMs({ expiresAt: lifetimeSecs, lifetimeSecs }, ahead) / 1000;
}
