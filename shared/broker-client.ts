/**
 * What a caller uses to get a token: it invokes the token broker through the
 * Lambda Invoke API (the same path in production and on the local stack) and
 * keeps the token in memory until its expiry buffer, so a warm caller makes no
 * invoke at all. Concurrent requests share one invoke.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { BrokerRequest, BrokerTokenReply, TokenSource } from './broker-request.js';
import { systemClock, type Clock } from './clock.js';
import { MAX_TOKEN_LIFETIME_SECS } from './constants.js';
import { BrokerError, type BrokerErrorCode, errorName } from './errors.js';
import { isServable } from './expiry.js';
import type { Log } from './logger.js';
import type { BrokerMetrics } from './metrics.js';
import { tokenHash } from './redact.js';

/** Where a caller's token came from: its own memory, or the broker's reply. */
export type CallerTokenSource = 'caller_memory' | BrokerTokenReply['source'];

export interface CallerToken {
  accessToken: string;
  expiresAt: number;
  scope: string;
  source: CallerTokenSource;
}

export interface BrokerClientOptions {
  lambda: LambdaClient;
  /** Name or ARN of the token broker function. */
  functionName: string;
  /** Client profile to ask for. */
  client: string;
  /** Scopes to ask for; empty or absent means the profile's default. */
  scopes?: string[];
  log: Log;
  /** Counts `CallerMemoryHit`; default none. */
  metrics?: BrokerMetrics;
  clock?: Clock;
}

interface HeldToken {
  reply: BrokerTokenReply;
  lifetimeSecs: number;
}

export class BrokerClient {
  private held: HeldToken | undefined;
  private inFlight: Promise<HeldToken> | undefined;
  private readonly clock: Clock;

  constructor(private readonly options: BrokerClientOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** A token valid beyond its expiry buffer: from memory, else from the broker. */
  async getToken(): Promise<CallerToken> {
    const held = this.held;
    if (held && isServable({ ...held.reply, lifetimeSecs: held.lifetimeSecs }, this.clock())) {
      this.options.metrics?.count('CallerMemoryHit');
      return toCallerToken(held.reply, 'caller_memory');
    }
    const fetched = await this.invokeOnce({});
    return toCallerToken(fetched.reply, fetched.reply.source);
  }

  /**
   * Reports that an API refused `accessToken` (HTTP 401) and returns a fresh
   * token. Only the token's hash leaves this process.
   */
  async replaceRejected(accessToken: string): Promise<CallerToken> {
    const rejected = tokenHash(accessToken);
    if (this.held && tokenHash(this.held.reply.accessToken) === rejected) this.held = undefined;
    let fetched = await this.invokeOnce({ rejectedTokenHash: rejected });
    // A lookup already in flight may have returned the very token refused.
    if (tokenHash(fetched.reply.accessToken) === rejected) {
      fetched = await this.invoke({ rejectedTokenHash: rejected });
    }
    return toCallerToken(fetched.reply, fetched.reply.source);
  }

  private invokeOnce(extra: Partial<BrokerRequest>): Promise<HeldToken> {
    this.inFlight ??= this.invoke(extra).finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async invoke(extra: Partial<BrokerRequest>): Promise<HeldToken> {
    const request: BrokerRequest = { client: this.options.client, ...extra };
    if (this.options.scopes?.length) request.scopes = this.options.scopes;

    const result = await this.send(request);
    const reply = parseReply(result, this.options.functionName);
    this.held = { reply, lifetimeSecs: reply.lifetimeSecs };
    this.options.log.debug('token received from broker', {
      source: reply.source,
      tokenHash: tokenHash(reply.accessToken),
      expiresAt: reply.expiresAt,
    });
    return this.held;
  }

  private async send(request: BrokerRequest): Promise<unknown> {
    let output;
    try {
      output = await this.options.lambda.send(
        new InvokeCommand({
          FunctionName: this.options.functionName,
          Payload: Buffer.from(JSON.stringify(request)),
        }),
      );
    } catch (error) {
      throw new BrokerError(
        'broker_unavailable',
        `token broker ${this.options.functionName} could not be invoked: ${errorName(error)}`,
        { retryable: true, cause: error },
      );
    }
    const payload = output.Payload ? Buffer.from(output.Payload).toString('utf8') : '';
    if (output.FunctionError) {
      throw new BrokerError(
        'broker_unavailable',
        `token broker ${this.options.functionName} failed: ${functionErrorType(payload)}`,
        { retryable: true },
      );
    }
    try {
      return JSON.parse(payload);
    } catch {
      throw new BrokerError('broker_unavailable', 'token broker reply is not JSON', {
        retryable: true,
      });
    }
  }
}

function parseReply(value: unknown, functionName: string): BrokerTokenReply {
  const reply = (typeof value === 'object' && value !== null ? value : {}) as Record<
    string,
    unknown
  >;
  const error = reply.error as { code?: unknown; message?: unknown; retryable?: unknown };
  if (error && typeof error === 'object') {
    throw new BrokerError(
      String(error.code) as BrokerErrorCode,
      typeof error.message === 'string' ? error.message : 'token broker refused the request',
      { retryable: error.retryable === true },
    );
  }
  if (typeof reply.accessToken !== 'string' || !reply.accessToken) {
    throw new BrokerError('broker_unavailable', `token broker ${functionName} sent no token`, {
      retryable: true,
    });
  }
  if (typeof reply.expiresAt !== 'number' || !Number.isFinite(reply.expiresAt)) {
    throw new BrokerError('broker_unavailable', `token broker ${functionName} sent no expiry`, {
      retryable: true,
    });
  }
  return {
    accessToken: reply.accessToken,
    tokenType: 'Bearer',
    expiresAt: reply.expiresAt,
    lifetimeSecs: grantedLifetimeSecs(reply),
    scope: typeof reply.scope === 'string' ? reply.scope : '',
    source: SOURCES.has(reply.source as string) ? (reply.source as TokenSource) : 'token_endpoint',
  };
}

const SOURCES = new Set<string>(['broker_memory', 'cache', 'token_endpoint']);

/**
 * The token's granted lifetime, which sizes its expiry buffer. A broker
 * deployed before replies carried it sends none; the longest lifetime kept
 * stands in then, which gives the widest buffer (60 s): a short-lived token
 * is then asked for again sooner, never served later.
 */
function grantedLifetimeSecs(reply: Record<string, unknown>): number {
  const lifetime = reply.lifetimeSecs;
  if (typeof lifetime === 'number' && Number.isFinite(lifetime) && lifetime > 0) return lifetime;
  return MAX_TOKEN_LIFETIME_SECS;
}

function toCallerToken(reply: BrokerTokenReply, source: CallerTokenSource): CallerToken {
  return { accessToken: reply.accessToken, expiresAt: reply.expiresAt, scope: reply.scope, source };
}

/** The error type of a function error payload; its message is not repeated. */
function functionErrorType(payload: string): string {
  try {
    const parsed = JSON.parse(payload) as { errorType?: unknown };
    return typeof parsed.errorType === 'string' ? parsed.errorType.slice(0, 80) : 'Unhandled';
  } catch {
    return 'Unhandled';
  }
}
