import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenBroker, type TokenBrokerOptions } from '../../shared/broker.js';
import { tokenCacheKey } from '../../shared/cache-key.js';
import { ClientProfileStore } from '../../shared/client-profile-store.js';
import { LEASE_DURATION_MS } from '../../shared/constants.js';
import { BrokerError } from '../../shared/errors.js';
import type { BrokerMetrics, CountMetric, DurationMetric } from '../../shared/metrics.js';
import { tokenHash } from '../../shared/redact.js';
import { TokenEndpointClient } from '../../shared/token-endpoint.js';
import type { CachedToken } from '../../shared/token-table.js';
import { FakeAwsClient } from '../helpers/fake-aws.js';
import { FakeTokenTable } from '../helpers/fake-token-table.js';
import { LogRecorder } from '../helpers/log-recorder.js';

const SECRET = 'cs-broker-unit-secret-v1';
const ROTATED_SECRET = 'cs-broker-unit-secret-v2';
const CLIENT_ID = 'ff_amazing_client';
const TOKEN_URL = 'https://sts.example.test/connect/token';
const START_MS = 1_800_000_000_000;
const START_SECS = START_MS / 1000;
const LIFETIME_SECS = 2400;
/** A 2,400 s token is renewed from 180 s before its expiry: 120 s ahead of its 60 s buffer. */
const REFRESH_DUE_SECS = 2220;
/** And served until 60 s before its expiry. */
const SERVED_FOR_SECS = 2340;
const KEY = tokenCacheKey({ tokenUrl: TOKEN_URL, clientId: CLIENT_ID }, ['stocks']);

interface TokenServerReply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A reply the test hands out when it chooses, to hold a token request in flight. */
interface HeldReply {
  /** Resolves once the token request has been sent. */
  requested: Promise<void>;
  answer(reply: TokenServerReply): void;
}

function tokenReply(accessToken: string, expiresIn = LIFETIME_SECS): TokenServerReply {
  return { body: { access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn } };
}

function oauthError(status: number, error: string, headers?: Record<string, string>) {
  return { status, body: { error }, ...(headers ? { headers } : {}) };
}

/**
 * One environment's view of the token server: it answers the replies it was
 * given, in order, and records any request beyond them as unexpected (the
 * broker may swallow the failure in a background refresh, so the test checks
 * the record afterwards).
 */
class TokenServer {
  readonly requests: URLSearchParams[] = [];
  readonly unexpected: number[] = [];
  private readonly script: (TokenServerReply | Promise<TokenServerReply>)[] = [];
  private readonly sent: (() => void)[] = [];

  reply(...replies: TokenServerReply[]): void {
    this.script.push(...replies);
  }

  hold(): HeldReply {
    let answer!: (reply: TokenServerReply) => void;
    let requested!: () => void;
    const requestedPromise = new Promise<void>((resolve) => (requested = resolve));
    this.script.push(new Promise<TokenServerReply>((resolve) => (answer = resolve)));
    this.sent[this.script.length - 1 + this.requests.length] = requested;
    return { requested: requestedPromise, answer };
  }

  fetch = (async (_url: string | URL | Request, init: RequestInit = {}) => {
    const index = this.requests.length;
    this.requests.push(new URLSearchParams(String(init.body)));
    this.sent[index]?.();
    const next = this.script.shift();
    if (!next) {
      this.unexpected.push(index + 1);
      throw new Error(`unexpected token request ${index + 1}`);
    }
    const reply = await next;
    const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
    return new Response(body, {
      status: reply.status ?? 200,
      headers: { 'content-type': 'application/json', ...reply.headers },
    });
  }) as typeof fetch;
}

/** Records every metric so that tests can count them. */
class CountingMetrics implements BrokerMetrics {
  readonly counts: Partial<Record<CountMetric, number>> = {};
  readonly durations: { name: DurationMetric; ms: number }[] = [];

  count = (name: CountMetric, value = 1): void => {
    this.counts[name] = (this.counts[name] ?? 0) + value;
  };

  duration = (name: DurationMetric, ms: number): void => {
    this.durations.push({ name, ms });
  };
}

/** One broker environment (one Lambda execution environment) of the fleet. */
class Environment {
  readonly tokenServer = new TokenServer();
  readonly metrics = new CountingMetrics();
  readonly log = new LogRecorder();
  readonly broker: TokenBroker;

  constructor(fleet: Fleet, name: string, options?: TokenBrokerOptions) {
    const clock = fleet.clock;
    this.broker = new TokenBroker({
      profiles: new ClientProfileStore(fleet.secrets.as<SecretsManagerClient>(), {
        prefix: 'token-broker/clients/',
        clock,
        log: this.log,
      }),
      tokenEndpoint: new TokenEndpointClient({
        fetch: this.tokenServer.fetch,
        clock,
        sleep: fleet.sleep,
        random: () => 0.5,
        // One attempt per token request: the client's own retries are tested elsewhere.
        maxAttempts: 1,
        log: this.log,
      }),
      tokens: fleet.table.asTokenTable(),
      log: this.log,
      metrics: this.metrics,
      clock,
      sleep: fleet.sleep,
      random: () => 0.5,
      environmentId: name,
      ...(options ? { options } : {}),
    });
  }

  getToken(extra: { rejectedTokenHash?: string } = {}) {
    return this.broker.getToken({ client: 'farfetch', ...extra });
  }

  /** The failure of a request that must fail. */
  async failure(extra: { rejectedTokenHash?: string } = {}): Promise<BrokerError> {
    const outcome = await this.getToken(extra).then(
      () => new Error('expected the request to fail'),
      (error: unknown) => error,
    );
    expect(outcome).toBeInstanceOf(BrokerError);
    return outcome as BrokerError;
  }
}

/** Shared surroundings: one frozen clock, one token table, one secret. */
class Fleet {
  nowMs = START_MS;
  readonly table = new FakeTokenTable();
  readonly environments: Environment[] = [];
  readonly sleeps: number[] = [];
  /** Called on every injected sleep, after the clock moved on. */
  onSleep: (() => Promise<void>) | undefined;
  private readonly secretVersions = [SECRET];

  readonly clock = () => this.nowMs;

  readonly sleep = async (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.nowMs += ms;
    await this.onSleep?.();
  };

  readonly secrets = new FakeAwsClient({
    GetSecretValueCommand: () => ({
      SecretString: JSON.stringify({
        client_id: CLIENT_ID,
        client_secret: this.secretVersions.at(-1),
        token_url: TOKEN_URL,
        scopes: ['stocks'],
      }),
      VersionId: `v${this.secretVersions.length}`,
    }),
  });

  environment(name = `env-${this.environments.length + 1}`, options?: TokenBrokerOptions) {
    const environment = new Environment(this, name, options);
    this.environments.push(environment);
    return environment;
  }

  rotateSecret(secret: string): void {
    this.secretVersions.push(secret);
  }

  advanceSecs(secs: number): void {
    this.nowMs += secs * 1000;
  }

  /** A token as a lease holder would have stored it, sent at `sentAtMs`. */
  seedToken(accessToken: string, sentAtMs: number, lifetimeSecs = LIFETIME_SECS): CachedToken {
    const issuedAt = Math.floor(sentAtMs / 1000);
    const token: CachedToken = {
      cacheKey: KEY,
      accessToken,
      tokenType: 'Bearer',
      tokenHash: tokenHash(accessToken),
      issuedAt,
      lifetimeSecs,
      expiresAt: issuedAt + lifetimeSecs,
      scope: 'stocks',
      requestedScope: 'stocks',
      clientId: CLIENT_ID,
      profile: 'farfetch',
    };
    this.table.seed(token);
    return token;
  }

  async storedToken(): Promise<string | undefined> {
    this.table.recover();
    return (await this.table.get(KEY)).token?.accessToken;
  }
}

let fleet: Fleet;

function newFleet(): Fleet {
  fleet = new Fleet();
  return fleet;
}

afterEach(async () => {
  await Promise.all(fleet.environments.map((env) => env.broker.settled()));
  for (const env of fleet.environments) {
    expect(env.tokenServer.unexpected, 'token requests beyond the script').toEqual([]);
    const logged = env.log.text();
    expect(logged).not.toContain(SECRET);
    expect(logged).not.toContain(ROTATED_SECRET);
    expect(logged).not.toMatch(/eyJ-/);
  }
});

/** Tokens are named `eyJ-…` so that a leak of any of them into a log is found. */
const at = (name: string) => `eyJ-${name}`;

describe('TokenBroker', () => {
  describe('tiers', () => {
    it('asks the token endpoint on a cold cache and stores the token for the fleet', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      env.tokenServer.reply(tokenReply(at('1')));

      // Act
      const reply = await env.getToken();

      // Assess
      expect(reply).toEqual({
        accessToken: at('1'),
        tokenType: 'Bearer',
        expiresAt: START_SECS + LIFETIME_SECS,
        lifetimeSecs: LIFETIME_SECS,
        scope: 'stocks',
        source: 'token_endpoint',
      });
      expect(env.tokenServer.requests).toHaveLength(1);
      expect(Object.fromEntries(env.tokenServer.requests[0]!)).toEqual({
        grant_type: 'client_credentials',
        scope: 'stocks',
        client_id: CLIENT_ID,
        client_secret: SECRET,
      });
      expect(await fleet.table.get(KEY)).toMatchObject({
        version: 1,
        failures: 0,
        token: { accessToken: at('1'), expiresAt: START_SECS + LIFETIME_SECS },
      });
      expect((await fleet.table.get(KEY)).lease).toBeUndefined();
      expect(env.metrics.counts).toEqual({ TokenRequest: 1 });
    });

    it('serves the next request from broker memory without reading the table', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      env.tokenServer.reply(tokenReply(at('1')));
      await env.getToken();
      fleet.advanceSecs(59);

      // Act
      const reply = await env.getToken();

      // Assess
      expect(reply).toMatchObject({ accessToken: at('1'), source: 'broker_memory' });
      expect(env.tokenServer.requests).toHaveLength(1);
      expect(fleet.table.calls.get).toBe(1);
      expect(env.metrics.counts.BrokerMemoryHit).toBe(1);
    });

    it('checks its memory against the shared table once a minute', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      env.tokenServer.reply(tokenReply(at('1')));
      await env.getToken();
      fleet.advanceSecs(60);

      // Act
      const reply = await env.getToken();

      // Assess
      expect(reply).toMatchObject({ accessToken: at('1'), source: 'cache' });
      expect(fleet.table.calls.get).toBe(2);
      expect(env.tokenServer.requests).toHaveLength(1);
    });

    it('stops serving a token purged from the table within a minute', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      env.tokenServer.reply(tokenReply(at('1')));
      env.tokenServer.reply(tokenReply(at('2')));
      const first = await env.getToken();
      await fleet.table.invalidate(KEY, tokenHash(first.accessToken));
      fleet.advanceSecs(60);

      // Act
      const reply = await env.getToken();

      // Assess
      expect(reply).toMatchObject({ accessToken: at('2'), source: 'token_endpoint' });
    });

    it('serves a second environment from the shared table without a token request', async () => {
      // Prepare
      newFleet();
      const first = fleet.environment('env-a');
      const second = fleet.environment('env-b');
      first.tokenServer.reply(tokenReply(at('1')));
      await first.getToken();

      // Act
      const fromTable = await second.getToken();
      const fromMemory = await second.getToken();

      // Assess
      expect(fromTable).toMatchObject({ accessToken: at('1'), source: 'cache' });
      expect(fromMemory).toMatchObject({ accessToken: at('1'), source: 'broker_memory' });
      expect(second.tokenServer.requests).toHaveLength(0);
      expect(second.metrics.counts).toEqual({ SharedCacheHit: 1, BrokerMemoryHit: 1 });
    });
  });

  describe('expiry buffer', () => {
    it.each([
      [2400, 60],
      [100, 10],
    ])('stops serving a %i s token %i s before it expires', async (lifetimeSecs, bufferSecs) => {
      // Prepare
      newFleet();
      const env = fleet.environment('env-a', { refreshAheadRatio: 0 });
      const seeded = fleet.seedToken(at('old'), START_MS, lifetimeSecs);
      env.tokenServer.reply(tokenReply(at('new'), lifetimeSecs));
      const bufferStartsMs = (seeded.expiresAt - bufferSecs) * 1000;

      // Act
      fleet.nowMs = bufferStartsMs - 1;
      const before = await env.getToken();
      fleet.nowMs = bufferStartsMs;
      const inside = await env.getToken();

      // Assess
      expect(before).toMatchObject({ accessToken: at('old'), source: 'cache' });
      expect(inside).toMatchObject({ accessToken: at('new'), source: 'token_endpoint' });
      expect(env.tokenServer.requests).toHaveLength(1);
    });

    it('never serves an item still present past its expiry, since TTL deletes late', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      fleet.seedToken(at('expired'), START_MS - 2 * LIFETIME_SECS * 1000);
      env.tokenServer.reply(tokenReply(at('new')));

      // Act
      const reply = await env.getToken();

      // Assess
      expect(reply).toMatchObject({ accessToken: at('new'), source: 'token_endpoint' });
      expect(await fleet.storedToken()).toBe(at('new'));
    });
  });

  describe('single flight', () => {
    it('makes one token request for 50 concurrent requests in one environment', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      env.tokenServer.reply(tokenReply(at('1')));

      // Act
      const replies = await Promise.all(Array.from({ length: 50 }, () => env.getToken()));

      // Assess
      expect(new Set(replies.map((r) => r.accessToken))).toEqual(new Set([at('1')]));
      expect(env.tokenServer.requests).toHaveLength(1);
      expect(fleet.table.calls).toMatchObject({ get: 1, acquireLease: 1, writeToken: 1 });
    });

    it('delivers a failure to every concurrent caller and does not keep it', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      env.tokenServer.reply({ status: 503, body: '' }, tokenReply(at('1')));

      // Act
      const failures = await Promise.all(Array.from({ length: 50 }, () => env.failure()));
      const next = await env.getToken();

      // Assess
      expect(new Set(failures.map((f) => f.code))).toEqual(new Set(['token_endpoint_unavailable']));
      expect(failures.every((f) => f.retryable)).toBe(true);
      expect(next).toMatchObject({ accessToken: at('1'), source: 'token_endpoint' });
      expect(env.tokenServer.requests).toHaveLength(2);
    });
  });

  describe('lease', () => {
    it('lets a second environment wait on the lease holder and serve its token', async () => {
      // Prepare
      newFleet();
      const holder = fleet.environment('env-a');
      const waiter = fleet.environment('env-b');
      const held = holder.tokenServer.hold();
      const holding = holder.getToken();
      await held.requested;
      fleet.onSleep = async () => {
        fleet.onSleep = undefined;
        held.answer(tokenReply(at('1')));
        await holding;
      };

      // Act
      const reply = await waiter.getToken();

      // Assess
      expect(reply).toMatchObject({ accessToken: at('1'), source: 'cache' });
      expect((await holding).source).toBe('token_endpoint');
      expect(waiter.tokenServer.requests).toHaveLength(0);
      expect(waiter.metrics.counts).toMatchObject({ LeaseWait: 1, SharedCacheHit: 1 });
      expect(waiter.metrics.counts.TokenRequest).toBeUndefined();
      expect(fleet.sleeps).toHaveLength(1);
    });

    it('records how long one wait on a lease lasted, once', async () => {
      // Prepare
      newFleet();
      const holder = fleet.environment('env-a');
      const waiter = fleet.environment('env-b');
      const held = holder.tokenServer.hold();
      const holding = holder.getToken();
      await held.requested;
      fleet.onSleep = async () => {
        if (fleet.sleeps.length < 5) return;
        fleet.onSleep = undefined;
        held.answer(tokenReply(at('1')));
        await holding;
      };

      // Act
      await waiter.getToken();

      // Assess
      const waitedMs = fleet.sleeps.reduce((sum, ms) => sum + ms, 0);
      expect(waiter.metrics.durations.filter((d) => d.name === 'LeaseWaitDuration')).toEqual([
        { name: 'LeaseWaitDuration', ms: waitedMs },
      ]);
    });

    it('takes over the lease of a holder that never writes once it lapses, and fetches', async () => {
      // Prepare
      newFleet();
      const holder = fleet.environment('env-a');
      const waiter = fleet.environment('env-b');
      const held = holder.tokenServer.hold();
      void holder.getToken().catch(() => undefined);
      await held.requested;
      waiter.tokenServer.reply(tokenReply(at('b')));

      // Act
      const reply = await waiter.getToken();

      // Assess
      expect(reply).toMatchObject({ accessToken: at('b'), source: 'token_endpoint' });
      expect(fleet.nowMs).toBeGreaterThan(START_MS + LEASE_DURATION_MS);
      expect(waiter.tokenServer.requests).toHaveLength(1);
      expect(waiter.metrics.counts.LeaseWait).toBe(1);
      expect(await fleet.storedToken()).toBe(at('b'));
    });

    it('never lets a stale lease holder’s late token replace the newer one', async () => {
      // Prepare
      newFleet();
      const stale = fleet.environment('env-a');
      const fresh = fleet.environment('env-b');
      const held = stale.tokenServer.hold();
      const staleRequest = stale.getToken();
      await held.requested;
      fresh.tokenServer.reply(tokenReply(at('b')));
      await fresh.getToken();

      // Act
      held.answer(tokenReply(at('a')));
      const staleReply = await staleRequest;

      // Assess
      expect(staleReply).toMatchObject({ accessToken: at('a'), source: 'token_endpoint' });
      expect(fleet.table.calls.writeToken).toBe(2);
      expect(await fleet.table.get(KEY)).toMatchObject({
        version: 1,
        token: { accessToken: at('b') },
      });
      expect(stale.log.messages('debug')).toContain('a newer token or another lease holder won');
    });

    it('gives up with a retryable error when the lease stays live past the wait deadline', async () => {
      // Prepare
      newFleet();
      const holder = fleet.environment('env-a', { leaseMs: 60_000 });
      const waiter = fleet.environment('env-b', { leaseWaitMs: 2_000 });
      const held = holder.tokenServer.hold();
      void holder.getToken().catch(() => undefined);
      await held.requested;

      // Act
      const failure = await waiter.failure();

      // Assess
      expect(failure).toMatchObject({ code: 'token_endpoint_unavailable', retryable: true });
      expect(waiter.tokenServer.requests).toHaveLength(0);
      expect(fleet.nowMs - START_MS).toBeGreaterThanOrEqual(2_000);
    });
  });

  describe('refresh ahead', () => {
    it('serves a token due for renewal at once and renews it once in the background', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      env.tokenServer.reply(tokenReply(at('1')));
      await env.getToken();
      fleet.advanceSecs(REFRESH_DUE_SECS);
      const refresh = env.tokenServer.hold();

      // Act
      const during = await Promise.all(Array.from({ length: 10 }, () => env.getToken()));
      refresh.answer(tokenReply(at('2')));
      await env.broker.settled();
      const after = await env.getToken();

      // Assess
      expect(new Set(during.map((r) => r.accessToken))).toEqual(new Set([at('1')]));
      expect(env.tokenServer.requests).toHaveLength(2);
      expect(env.metrics.counts.RefreshAhead).toBe(1);
      expect(after).toMatchObject({ accessToken: at('2'), source: 'broker_memory' });
      expect(await fleet.table.get(KEY)).toMatchObject({
        version: 2,
        token: { accessToken: at('2') },
      });
    });

    it('does not renew a token before it is due, 180 s before a 2,400 s token expires', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      env.tokenServer.reply(tokenReply(at('1')));
      await env.getToken();
      fleet.advanceSecs(REFRESH_DUE_SECS - 1);

      // Act
      await env.getToken();
      await env.broker.settled();

      // Assess
      expect(env.tokenServer.requests).toHaveLength(1);
      expect(env.metrics.counts.RefreshAhead).toBeUndefined();
    });

    it('keeps serving the valid token when a background refresh fails', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      env.tokenServer.reply(tokenReply(at('1')), { status: 503, body: '' });
      await env.getToken();
      fleet.advanceSecs(REFRESH_DUE_SECS + 60);

      // Act
      const during = await env.getToken();
      await env.broker.settled();
      const stored = await fleet.table.get(KEY);

      // Assess
      expect(during.accessToken).toBe(at('1'));
      expect(stored).toMatchObject({ version: 1, failures: 0, token: { accessToken: at('1') } });
      expect(stored.cooldownUntilMs).toBeUndefined();
      expect(stored.lease).toBeUndefined();
      expect(env.log.messages('warn')).toContain('refresh ahead failed, current token kept');
    });

    it('lets an environment that lost the refresh race adopt the refreshed token', async () => {
      // Prepare
      newFleet();
      const first = fleet.environment('env-a');
      const second = fleet.environment('env-b');
      first.tokenServer.reply(tokenReply(at('1')), tokenReply(at('2')));
      await first.getToken();
      await second.getToken();
      fleet.advanceSecs(REFRESH_DUE_SECS + 60);
      await first.getToken();
      await first.broker.settled();

      // Act
      await second.getToken();
      await second.broker.settled();
      const leaseAttempts = fleet.table.calls.acquireLease;
      const replies = [];
      for (let call = 0; call < 5; call++) {
        replies.push(await second.getToken());
        await second.broker.settled();
      }

      // Assess
      expect(fleet.table.calls.acquireLease).toBe(leaseAttempts);
      expect(replies.map((r) => r.accessToken)).toEqual(Array(5).fill(at('2')));
    });
  });

  describe('refresh', () => {
    it('answers fresh without a token request when the token is outside its refresh window', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      fleet.seedToken(at('1'), START_MS - 60_000);

      // Act
      const outcome = await env.broker.refresh('farfetch');

      // Assess
      expect(outcome).toBe('fresh');
      expect(env.tokenServer.requests).toHaveLength(0);
      expect(await env.getToken()).toMatchObject({ source: 'broker_memory' });
    });

    it('answers refreshed after replacing a token in its refresh window', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      fleet.seedToken(at('1'), START_MS - (REFRESH_DUE_SECS + 60) * 1000);
      env.tokenServer.reply(tokenReply(at('2')));

      // Act
      const outcome = await env.broker.refresh('farfetch');

      // Assess
      expect(outcome).toBe('refreshed');
      expect(env.tokenServer.requests).toHaveLength(1);
      expect(await fleet.table.get(KEY)).toMatchObject({
        version: 2,
        token: { accessToken: at('2') },
      });
    });

    it('renews now a token that would leave service before the next scheduled run', async () => {
      // Prepare: 300 s before its buffer, and 120 s before it falls due.
      newFleet();
      const env = fleet.environment();
      fleet.seedToken(at('1'), START_MS - (SERVED_FOR_SECS - 300) * 1000);
      env.tokenServer.reply(tokenReply(at('2')));

      // Act
      const unaided = await env.broker.refresh('farfetch');
      const lookingAhead = await env.broker.refresh('farfetch', { withinSecs: 360 });

      // Assess
      expect(unaided).toBe('fresh');
      expect(lookingAhead).toBe('refreshed');
      expect(env.tokenServer.requests).toHaveLength(1);
      expect(await fleet.storedToken()).toBe(at('2'));
    });

    it('leaves a token that stays in service past the look-ahead', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      fleet.seedToken(at('1'), START_MS - (SERVED_FOR_SECS - 361) * 1000);

      // Act
      const outcome = await env.broker.refresh('farfetch', { withinSecs: 360 });

      // Assess
      expect(outcome).toBe('fresh');
      expect(env.tokenServer.requests).toHaveLength(0);
    });

    it('leaves a young token that would not outlast the look-ahead anyway to renewal ahead', async () => {
      // Prepare: a 300 s token is served for 270 s, less than the 360 s look-ahead.
      newFleet();
      const env = fleet.environment();
      fleet.seedToken(at('1'), START_MS - 1_000, 300);

      // Act
      const outcome = await env.broker.refresh('farfetch', { withinSecs: 360 });

      // Assess
      expect(outcome).toBe('fresh');
      expect(env.tokenServer.requests).toHaveLength(0);
    });

    it('adds no token requests for short tokens to what a busy fleet makes', async () => {
      // 30 minutes of a call every 10 s with 300 s tokens, with and without the schedule.
      const requestsIn30Minutes = async (scheduled: boolean) => {
        newFleet();
        const env = fleet.environment();
        env.tokenServer.reply(...Array.from({ length: 40 }, (_, i) => tokenReply(at(`${i}`), 300)));
        for (let second = 0; second < 1800; second += 10) {
          if (scheduled && second % 300 === 0) {
            await env.broker.refresh('farfetch', { withinSecs: 360 });
          }
          await env.getToken();
          await env.broker.settled();
          fleet.advanceSecs(10);
        }
        return env.tokenServer.requests.length;
      };

      const callersOnly = await requestsIn30Minutes(false);
      const withSchedule = await requestsIn30Minutes(true);

      expect(withSchedule).toBeLessThanOrEqual(callersOnly + 1);
    });

    it('answers refreshed after fetching a token that was missing', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      env.tokenServer.reply(tokenReply(at('1')));

      // Act
      const outcome = await env.broker.refresh('farfetch');

      // Assess
      expect(outcome).toBe('refreshed');
      expect(await fleet.storedToken()).toBe(at('1'));
    });

    it('answers skipped without a token request while another environment holds the lease', async () => {
      // Prepare
      newFleet();
      const holder = fleet.environment('env-a');
      const env = fleet.environment('env-b');
      const held = holder.tokenServer.hold();
      void holder.getToken().catch(() => undefined);
      await held.requested;

      // Act
      const outcome = await env.broker.refresh('farfetch');

      // Assess
      expect(outcome).toBe('skipped');
      expect(env.tokenServer.requests).toHaveLength(0);
    });

    it('answers skipped without a token request during a fleet cooldown', async () => {
      // Prepare
      newFleet();
      const first = fleet.environment('env-a');
      const env = fleet.environment('env-b');
      first.tokenServer.reply(oauthError(429, 'slow_down', { 'retry-after': '30' }));
      await first.failure();

      // Act
      const outcome = await env.broker.refresh('farfetch');

      // Assess
      expect(outcome).toBe('skipped');
      expect(env.tokenServer.requests).toHaveLength(0);
    });
  });

  describe('rejected tokens', () => {
    it('answers a wave of 20 reports of the same refused token with one token request', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      env.tokenServer.reply(tokenReply(at('1')), tokenReply(at('2')));
      await env.getToken();
      fleet.advanceSecs(60);

      // Act
      const replies = await Promise.all(
        Array.from({ length: 20 }, () => env.getToken({ rejectedTokenHash: tokenHash(at('1')) })),
      );

      // Assess
      expect(new Set(replies.map((r) => r.accessToken))).toEqual(new Set([at('2')]));
      expect(env.tokenServer.requests).toHaveLength(2);
      expect(await fleet.storedToken()).toBe(at('2'));
    });

    it('keeps the current token when an older token is reported', async () => {
      // Prepare
      newFleet();
      const first = fleet.environment('env-a');
      const second = fleet.environment('env-b');
      first.tokenServer.reply(tokenReply(at('1')), tokenReply(at('2')));
      await first.getToken();
      fleet.advanceSecs(60);
      await first.getToken({ rejectedTokenHash: tokenHash(at('1')) });

      // Act
      const late = await second.getToken({ rejectedTokenHash: tokenHash(at('1')) });

      // Assess
      expect(late).toMatchObject({ accessToken: at('2'), source: 'cache' });
      expect(second.tokenServer.requests).toHaveLength(0);
      expect(await fleet.storedToken()).toBe(at('2'));
    });
  });

  describe('secret rotation', () => {
    it('reads a rotated secret past its cache and retries once with it', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      await env.broker.refresh('farfetch').catch(() => undefined);
      env.tokenServer.unexpected.length = 0;
      fleet.rotateSecret(ROTATED_SECRET);
      env.tokenServer.reply(oauthError(401, 'invalid_client'), tokenReply(at('1')));
      const secretReads = fleet.secrets.count('GetSecretValueCommand');

      // Act
      const reply = await env.getToken();

      // Assess
      expect(reply).toMatchObject({ accessToken: at('1'), source: 'token_endpoint' });
      const sentSecrets = env.tokenServer.requests.slice(-2).map((r) => r.get('client_secret'));
      expect(sentSecrets).toEqual([SECRET, ROTATED_SECRET]);
      expect(fleet.secrets.count('GetSecretValueCommand')).toBe(secretReads + 1);
    });

    it('does not retry when the secret has not changed, and starts no cooldown', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      env.tokenServer.reply(oauthError(401, 'invalid_client'));

      // Act
      const failure = await env.failure();

      // Assess
      expect(failure).toMatchObject({ code: 'invalid_client', retryable: false });
      expect(env.tokenServer.requests).toHaveLength(1);
      expect(fleet.secrets.count('GetSecretValueCommand')).toBe(2);
      expect(await fleet.table.get(KEY)).toEqual({ version: 0, failures: 0 });
      expect(env.metrics.counts.Refusal).toBe(1);
      expect(env.log.messages('error')).toContain('token request refused or failed');
    });
  });

  describe('fleet cooldown', () => {
    it('fails retryable with Retry-After and keeps a second environment from asking', async () => {
      // Prepare
      newFleet();
      const first = fleet.environment('env-a');
      const second = fleet.environment('env-b');
      first.tokenServer.reply(oauthError(429, 'slow_down', { 'retry-after': '30' }));

      // Act
      const limited = await first.failure();
      fleet.advanceSecs(10);
      const coolingDown = await second.failure();

      // Assess
      expect(limited).toMatchObject({
        code: 'token_endpoint_unavailable',
        retryable: true,
        retryAfterSecs: 30,
      });
      expect(coolingDown).toMatchObject({
        code: 'token_endpoint_unavailable',
        retryable: true,
        retryAfterSecs: 20,
      });
      expect(second.tokenServer.requests).toHaveLength(0);
      expect(second.metrics.counts.CooldownServed).toBe(1);
    });

    it('asks the token server again once the cooldown has passed', async () => {
      // Prepare
      newFleet();
      const first = fleet.environment('env-a');
      const second = fleet.environment('env-b');
      first.tokenServer.reply(oauthError(429, 'slow_down', { 'retry-after': '30' }));
      second.tokenServer.reply(tokenReply(at('1')));
      await first.failure();
      fleet.nowMs += 30_001;

      // Act
      const reply = await second.getToken();

      // Assess
      expect(reply).toMatchObject({ accessToken: at('1'), source: 'token_endpoint' });
      expect(await fleet.table.get(KEY)).toMatchObject({ version: 1, failures: 0 });
      expect((await fleet.table.get(KEY)).cooldownUntilMs).toBeUndefined();
    });

    it('keeps serving a still-valid token during a cooldown', async () => {
      // Prepare
      newFleet();
      const first = fleet.environment('env-a');
      const second = fleet.environment('env-b');
      first.tokenServer.reply(
        tokenReply(at('1')),
        oauthError(429, 'slow_down', { 'retry-after': '30' }),
      );
      await first.getToken();
      fleet.advanceSecs(REFRESH_DUE_SECS + 60);
      await first.getToken();
      await first.broker.settled();

      // Act
      const reply = await second.getToken();
      await second.broker.settled();

      // Assess
      expect((await fleet.table.get(KEY)).cooldownUntilMs).toBe(fleet.nowMs + 30_000);
      expect(reply).toMatchObject({ accessToken: at('1'), source: 'cache' });
      expect(second.tokenServer.requests).toHaveLength(0);
    });

    it('stores a cooldown after three consecutive transient failures', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      env.tokenServer.reply(
        { status: 503, body: '' },
        { status: 500, body: '' },
        { status: 503, body: '' },
      );

      // Act
      const failures = [await env.failure(), await env.failure()];
      const afterTwo = await fleet.table.get(KEY);
      failures.push(await env.failure());
      const afterThree = await fleet.table.get(KEY);
      const coolingDown = await env.failure();

      // Assess
      expect(afterTwo).toEqual({ version: 0, failures: 2 });
      // 1 s base, halved to 0.75 by the fixed jitter of random() = 0.5.
      expect(afterThree).toEqual({ version: 0, failures: 3, cooldownUntilMs: START_MS + 750 });
      expect(coolingDown).toMatchObject({ retryable: true, retryAfterSecs: 1 });
      expect(env.tokenServer.requests).toHaveLength(3);
      expect(env.metrics.counts).toMatchObject({ TokenRequestFailed: 3, CooldownServed: 1 });
    });

    it('starts no cooldown on a refusal such as invalid_scope and does not keep it', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      env.tokenServer.reply(oauthError(400, 'invalid_scope'), oauthError(400, 'invalid_scope'));

      // Act
      const first = await env.failure();
      const second = await env.failure();

      // Assess
      expect(first).toMatchObject({ code: 'invalid_scope', retryable: false });
      expect(second.code).toBe('invalid_scope');
      expect(env.tokenServer.requests).toHaveLength(2);
      expect(await fleet.table.get(KEY)).toEqual({ version: 0, failures: 0 });
    });
  });

  describe('when DynamoDB fails', () => {
    it('fetches directly, counts CacheFallback, warns, and still shares one fetch', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      fleet.table.failAll();
      env.tokenServer.reply(tokenReply(at('1')));

      // Act
      const replies = await Promise.all(Array.from({ length: 10 }, () => env.getToken()));
      const next = await env.getToken();

      // Assess
      expect(new Set(replies.map((r) => r.accessToken))).toEqual(new Set([at('1')]));
      expect(replies[0]?.source).toBe('token_endpoint');
      expect(next).toMatchObject({ accessToken: at('1'), source: 'broker_memory' });
      expect(env.tokenServer.requests).toHaveLength(1);
      expect(env.metrics.counts.CacheFallback).toBe(1);
      expect(env.log.messages('warn')).toEqual(['token cache unavailable, fetching directly']);
    });

    it('keeps serving a valid token from memory past its check-in age, without a token request', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      env.tokenServer.reply(tokenReply(at('1')));
      await env.getToken();
      fleet.table.failAll();
      fleet.advanceSecs(61);

      // Act
      const reply = await env.getToken();

      // Assess
      expect(reply).toMatchObject({ accessToken: at('1'), source: 'broker_memory' });
      expect(env.tokenServer.requests).toHaveLength(1);
      expect(env.metrics.counts.CacheFallback).toBe(1);
      expect(env.log.messages('warn')).toEqual(['token cache unavailable, serving from memory']);
    });

    it('reports a scheduled refresh that cannot read the table as a retryable cache_unavailable', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      fleet.table.failWith('get');

      // Act
      const error = await env.broker.refresh('farfetch').catch((e: unknown) => e);

      // Assess
      expect(error).toBeInstanceOf(BrokerError);
      expect(error).toMatchObject({ code: 'cache_unavailable', retryable: true });
      expect(env.tokenServer.requests).toHaveLength(0);
    });

    it('serves the token it fetched even when only the write fails', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      fleet.table.failWith('writeToken');
      env.tokenServer.reply(tokenReply(at('1')));

      // Act
      const reply = await env.getToken();

      // Assess
      expect(reply).toMatchObject({ accessToken: at('1'), source: 'token_endpoint' });
      expect(env.log.messages('warn')).toContain('token could not be cached');
    });
  });

  describe('time to live', () => {
    it('never lowers the TTL below a held token while a lease is taken for a refresh', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      env.tokenServer.reply(tokenReply(at('1')));
      const first = await env.getToken();
      fleet.advanceSecs(REFRESH_DUE_SECS + 10);
      const held = env.tokenServer.hold();

      // Act
      await env.getToken();
      await held.requested;
      const ttlDuringFetch = fleet.table.ttlOf(KEY);
      held.answer(tokenReply(at('2')));
      await env.broker.settled();

      // Assess
      expect(ttlDuringFetch).toBeGreaterThanOrEqual(first.expiresAt);
    });
  });

  describe('token replies', () => {
    it('refuses a slow reply whose token is already inside its expiry buffer', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      const held = env.tokenServer.hold();
      const request = env.failure();
      await held.requested;
      fleet.advanceSecs(55);

      // Act
      held.answer(tokenReply(at('late'), 60));
      const failure = await request;

      // Assess
      expect(failure).toMatchObject({ code: 'invalid_token_reply', retryable: false });
      expect(failure.message).not.toContain(at('late'));
      expect((await fleet.table.get(KEY)).token).toBeUndefined();
    });
  });

  describe('logs', () => {
    it('never logs the client secret or a token, only token hashes', async () => {
      // Prepare
      newFleet();
      const env = fleet.environment();
      env.tokenServer.reply(
        oauthError(400, 'invalid_scope'),
        tokenReply(at('1')),
        tokenReply(at('2')),
      );

      // Act
      await env.failure();
      await env.getToken();
      fleet.advanceSecs(60);
      await env.getToken({ rejectedTokenHash: tokenHash(at('1')) });

      // Assess
      const logged = env.log.text();
      expect(logged).not.toContain(SECRET);
      expect(logged).not.toContain(at('1'));
      expect(logged).not.toContain(at('2'));
      expect(logged).toContain(tokenHash(at('2')));
    });
  });
});
