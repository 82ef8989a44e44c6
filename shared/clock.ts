/** Current time in epoch milliseconds; injected so tests can freeze it. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

export function epochSecs(ms: number): number {
  return Math.floor(ms / 1000);
}

/** Resolves after `ms`; injected beside the clock so tests need not wait. */
export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
