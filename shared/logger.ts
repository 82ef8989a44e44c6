/**
 * Structured JSON logging through Powertools Logger. Messages are fixed
 * templates; variable parts go into named fields. A secret or a token never
 * becomes a field: identify a token with `tokenHash` from `redact.ts`.
 */
import { Logger } from '@aws-lambda-powertools/logger';

/** One logger per function; `POWERTOOLS_LOG_LEVEL` sets its level (default INFO). */
export function createLogger(serviceName: string): Logger {
  return new Logger({ serviceName });
}

/** The subset of a logger the core modules use, so tests can pass a recorder. */
export type Log = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
