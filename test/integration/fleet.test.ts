/*
 * The fleet cache across processes. Each worker is a separate Node process
 * with its own broker module instance, as a Lambda execution environment is;
 * all of them share one dynalite, one Secrets Manager stand-in and one token
 * server that counts every token request. Each scenario starts a cold fleet
 * and uses its own OAuth client, so its cache key, lease and cooldown are its
 * own. Tokens cross the IPC channel as hashes only.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expiryBufferSecs, renewalPeriodSecs } from '../../shared/expiry.js';
import { Fleet, type FleetConfig, type FleetTranscript } from '../fleet/fleet.js';
import type { FleetWorker } from '../fleet/fleet-worker.js';
import {
  closedLoopbackPort,
  fleetClients,
  startFleetStack,
  type FleetStack,
} from '../fleet/fleet-stack.js';
import { startSlowDynamoDb } from '../fleet/slow-dynamodb.js';
import type { CallOutcome } from '../fleet/worker-protocol.js';

const WORKERS = 4;
const CALLS_PER_WORKER = 25;
const LEASE_MS = 1_500;
const LEASE_WAIT_MS = 6_000;
/**
 * Wider than the product's default: four workers, dynalite and the token
 * server share two cores here, and a 4 s token leaves the default 0.2 s.
 */
const REFRESH_AHEAD_RATIO = 0.25;

/** Bound on one burst command, far above what a healthy one takes. */
const BURST_TIMEOUT_MS = 15_000;

const CLIENTS = {
  oneKey: 'fleet-one-key',
  threeKeys: 'fleet-three-keys',
  takeover: 'fleet-takeover',
  refresh: 'fleet-refresh-ahead',
  rejected: 'fleet-rejected',
  rotation: 'fleet-rotation',
  cooldown: 'fleet-cooldown',
  outage: 'fleet-outage',
  lateLease: 'fleet-late-lease',
};

let stack: FleetStack;
/** The fleet of the running test, stopped after it. */
let currentFleet: Fleet | undefined;
const transcripts: FleetTranscript[] = [];

/** A cold fleet of `size` workers; `overrides` may give each worker its own settings. */
async function startFleet(
  size = WORKERS,
  overrides: (index: number) => Partial<FleetConfig> = () => ({}),
): Promise<Fleet> {
  const shared: FleetConfig = {
    ...stack.workerConfig,
    leaseMs: LEASE_MS,
    leaseWaitMs: LEASE_WAIT_MS,
    refreshAheadRatio: REFRESH_AHEAD_RATIO,
  };
  currentFleet = await Fleet.start(
    Array.from({ length: size }, (_, index) => ({ ...shared, ...overrides(index) })),
  );
  return currentFleet;
}

const tokenRequests = () => stack.tokenServer.stats().tokenRequests;

const tokensOf = (outcomes: CallOutcome[]) =>
  outcomes.map((outcome) => {
    if (!outcome.token) throw new Error(`call failed: ${JSON.stringify(outcome.error)}`);
    return outcome.token;
  });

const hashesOf = (outcomes: CallOutcome[]) =>
  new Set(tokensOf(outcomes).map((token) => token.tokenHash));

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  stack = await startFleetStack(fleetClients(Object.values(CLIENTS), [CLIENTS.rotation]));
});

afterEach(async () => {
  stack.tokenServer.setFault(undefined);
  const stopping = currentFleet;
  currentFleet = undefined;
  if (stopping) transcripts.push(await stopping.stop());
});

afterAll(async () => {
  await currentFleet?.stop();
  await stack?.stop();
});

describe('a cold fleet', () => {
  it('makes exactly one token request for one key, whatever the concurrency', async () => {
    const fleet = await startFleet();
    const before = tokenRequests();

    const bursts = await fleet.all(
      { type: 'burst', client: CLIENTS.oneKey, concurrency: CALLS_PER_WORKER },
      BURST_TIMEOUT_MS,
    );

    const outcomes = bursts.flat();
    expect(outcomes).toHaveLength(WORKERS * CALLS_PER_WORKER);
    expect(tokenRequests() - before).toBe(1);
    const hashes = hashesOf(outcomes);
    expect(hashes.size).toBe(1);
    expect(await stack.isActive([...hashes][0]!)).toBe(true);
    const fetchedBy = bursts.filter((burst) =>
      burst.some((outcome) => outcome.token?.source === 'token_endpoint'),
    );
    expect(fetchedBy).toHaveLength(1);
  });

  it('makes exactly three token requests for three keys', async () => {
    const fleet = await startFleet();
    const scopeSets = [['stocks'], ['orders'], ['orders', 'stocks']];
    const before = tokenRequests();

    const bursts = await Promise.all(
      fleet.workers.flatMap((worker) =>
        scopeSets.map(async (scopes) => ({
          scopes,
          outcomes: await worker.request(
            { type: 'burst', client: CLIENTS.threeKeys, scopes, concurrency: 8 },
            BURST_TIMEOUT_MS,
          ),
        })),
      ),
    );

    expect(tokenRequests() - before).toBe(3);
    for (const scopes of scopeSets) {
      const outcomes = bursts.filter((burst) => burst.scopes === scopes).flatMap((b) => b.outcomes);
      const hashes = hashesOf(outcomes);
      expect(hashes.size).toBe(1);
      expect(await stack.isActive([...hashes][0]!)).toBe(true);
      expect(new Set(tokensOf(outcomes).map((token) => token.scope))).toEqual(
        new Set([scopes.join(' ')]),
      );
    }
  });
});

describe('a lease requested late', () => {
  // Fails against shared/broker.ts as of this writing: the foreground path
  // (`tryFetchUnderLease`) takes the lease without checking that the item is
  // still the one it read, so an environment whose lease request lands after
  // another environment's whole fetch gets a fresh lease and asks the token
  // server again. Passing the version read to `acquireLease` (with a missing
  // `version` attribute accepted for version 0) would make it re-read instead.
  it('is not granted once another environment has stored a token since the item was read', async () => {
    // Prepare: the late environment's first conditional write (its lease
    // request) is held back 1.5 s on its way to DynamoDB.
    const slow = await startSlowDynamoDb({
      target: stack.workerConfig.dynamoDbEndpoint,
      delaysMs: { UpdateItem: 1_500 },
    });
    try {
      const fleet = await startFleet(2, (index) =>
        index === 0 ? { dynamoDbEndpoint: slow.endpoint } : {},
      );
      const [late, prompt] = fleet.workers as [FleetWorker, FleetWorker];
      const before = tokenRequests();
      const burst = { type: 'burst', client: CLIENTS.lateLease, concurrency: 5 } as const;

      // Act: the late one reads the empty item and asks for the lease; while
      // that request is held back, the prompt one fetches and stores a token.
      const lateBurst = late.request(burst, BURST_TIMEOUT_MS);
      await until(() => slow.delayed().UpdateItem === 1, 5_000);
      const promptBurst = await prompt.request(burst, BURST_TIMEOUT_MS);
      const lateOutcomes = await lateBurst;

      // Assess
      expect(tokensOf(promptBurst)[0]?.source).toBe('token_endpoint');
      expect(tokenRequests() - before).toBe(1);
      expect(hashesOf([...promptBurst, ...lateOutcomes]).size).toBe(1);
    } finally {
      await slow.stop();
    }
  });
});

describe('a lease holder killed mid-fetch', () => {
  it('is replaced by another environment once its lease lapses, and every caller gets a token', async () => {
    // Prepare: the first token reply is held back long enough to kill its asker.
    const fleet = await startFleet();
    const before = tokenRequests();
    stack.tokenServer.setFault(({ n }) => (n === before + 1 ? { delayMs: 5_000 } : undefined));

    // Act: every environment asks at once; the one holding the lease is killed.
    const bursts = fleet.workers.map((worker) =>
      worker
        .request(
          { type: 'burst', client: CLIENTS.takeover, concurrency: CALLS_PER_WORKER },
          BURST_TIMEOUT_MS,
        )
        .then((outcomes) => ({ worker, outcomes }))
        .catch((error: Error) => ({ worker, error })),
    );
    let leaseId = '';
    await until(async () => {
      leaseId = (await stack.tokenItem(CLIENTS.takeover)).leaseId?.S ?? '';
      return leaseId !== '' && tokenRequests() === before + 1;
    }, 5_000);
    const leaseExpiresAtMs = Number((await stack.tokenItem(CLIENTS.takeover)).leaseExpiresAtMs?.N);
    const holder = fleet.holderOf(leaseId);
    expect(holder).toBeDefined();
    holder!.kill();
    const settled = await Promise.all(bursts);

    // Assess
    const survivors = settled.filter((burst) => burst.worker !== holder);
    expect(settled.find((burst) => burst.worker === holder)).toHaveProperty('error');
    const outcomes = survivors.flatMap((burst) => ('outcomes' in burst ? burst.outcomes : []));
    expect(outcomes).toHaveLength((WORKERS - 1) * CALLS_PER_WORKER);
    const hashes = hashesOf(outcomes);
    expect(hashes.size).toBe(1);
    expect(await stack.isActive([...hashes][0]!)).toBe(true);
    expect(tokenRequests() - before).toBe(2);
    const firstServedAtMs = Math.min(...outcomes.map((outcome) => outcome.receivedAtMs));
    expect(firstServedAtMs).toBeGreaterThanOrEqual(leaseExpiresAtMs);
  });
});

describe('refresh ahead under load', () => {
  const LIFETIME_SECS = 4;
  const LOAD_MS = 14_000;
  const LOAD_INTERVAL_MS = 20;
  /** What a call may spend between the broker's expiry check and its return. */
  const RECEIPT_SLACK_MS = 50;

  afterEach(() => stack.tokenServer.setAccessTokenTtl(2_400));

  it('never serves an expired token nor makes a caller wait on the token server', async () => {
    // Prepare: short-lived tokens, one already cached by the fleet.
    stack.tokenServer.setAccessTokenTtl(LIFETIME_SECS);
    const fleet = await startFleet();
    await fleet.workers[0]!.request(
      { type: 'burst', client: CLIENTS.refresh, concurrency: 1 },
      BURST_TIMEOUT_MS,
    );
    const before = tokenRequests();

    // Act: every environment calls every 20 ms for several lifetimes.
    const loads = await fleet.all(
      {
        type: 'load',
        client: CLIENTS.refresh,
        durationMs: LOAD_MS,
        intervalMs: LOAD_INTERVAL_MS,
      },
      LOAD_MS + 15_000,
    );

    // Assess
    const outcomes = loads.flat();
    const tokens = tokensOf(outcomes);
    const bufferMs = expiryBufferSecs(LIFETIME_SECS) * 1000;
    const marginsMs = outcomes.map((o) => o.token!.expiresAt * 1000 - o.receivedAtMs);
    const requests = tokenRequests() - before;
    expect(outcomes.length).toBeGreaterThan(WORKERS * (LOAD_MS / LOAD_INTERVAL_MS) * 0.5);
    // Every token came from memory or the table: no caller waited on a fetch.
    expect(tokens.filter((token) => token.source === 'token_endpoint')).toEqual([]);
    // Every token still had its expiry buffer left when its caller got it.
    expect(Math.min(...marginsMs)).toBeGreaterThan(0);
    expect(marginsMs.filter((marginMs) => marginMs < bufferMs - RECEIPT_SLACK_MS)).toEqual([]);
    // One token per renewal interval, fleet-wide: the time from a token's
    // request until it falls due.
    const renewalIntervalMs =
      renewalPeriodSecs(LIFETIME_SECS, { ratio: REFRESH_AHEAD_RATIO }) * 1000;
    expect(requests).toBeGreaterThanOrEqual(Math.floor(LOAD_MS / (LIFETIME_SECS * 1000)));
    expect(requests).toBeLessThanOrEqual(Math.ceil(LOAD_MS / renewalIntervalMs) + 2);
  }, 45_000);
});

describe('a wave of 401s', () => {
  it('replaces a refused token with exactly one new token request', async () => {
    // Prepare: the fleet holds a token, which the token server then revokes.
    const fleet = await startFleet();
    const warm = await fleet.all(
      { type: 'burst', client: CLIENTS.rejected, concurrency: 5 },
      BURST_TIMEOUT_MS,
    );
    const [refusedHash] = hashesOf(warm.flat());
    await stack.tokenServer.revokeAll();
    const before = tokenRequests();

    // Act: every caller in every environment reports it at once.
    const bursts = await fleet.all(
      {
        type: 'burst',
        client: CLIENTS.rejected,
        rejectedTokenHash: refusedHash!,
        concurrency: CALLS_PER_WORKER,
      },
      BURST_TIMEOUT_MS,
    );

    // Assess
    expect(tokenRequests() - before).toBe(1);
    const hashes = hashesOf(bursts.flat());
    expect(hashes.size).toBe(1);
    expect(hashes.has(refusedHash!)).toBe(false);
    expect(await stack.isActive([...hashes][0]!)).toBe(true);
  });
});

describe('a rotated client secret', () => {
  it('is read again once and the refused request retried once', async () => {
    // Prepare: every environment read the profile before the rotation; the
    // token server already accepts only the new secret.
    const fleet = await startFleet();
    const [oldVersion] = await fleet.all(
      { type: 'readProfile', client: CLIENTS.rotation },
      BURST_TIMEOUT_MS,
    );
    const newVersion = await stack.rotate(
      CLIENTS.rotation,
      stack.clients.get(CLIENTS.rotation)!.serverSecret,
    );
    const secretReads = () => stack.secretsManager.stats().calls.GetSecretValue ?? 0;
    const readsBefore = secretReads();
    const before = stack.tokenServer.stats();

    // Act
    const bursts = await fleet.all(
      { type: 'burst', client: CLIENTS.rotation, concurrency: CALLS_PER_WORKER },
      BURST_TIMEOUT_MS,
    );

    // Assess
    expect(newVersion).not.toBe(oldVersion!.versionId);
    const after = stack.tokenServer.stats();
    expect(after.tokenRequests - before.tokenRequests).toBe(2);
    expect(after.tokensIssued - before.tokensIssued).toBe(1);
    expect(secretReads() - readsBefore).toBe(1);
    const hashes = hashesOf(bursts.flat());
    expect(hashes.size).toBe(1);
    expect(await stack.isActive([...hashes][0]!)).toBe(true);
  });
});

describe('a rate-limited token server', () => {
  it('starts a fleet-wide cooldown after one 429 and asks nothing more', async () => {
    // Prepare: every token request is answered 429 with Retry-After: 30.
    const fleet = await startFleet();
    const before = tokenRequests();
    stack.tokenServer.setFault(() => ({ status: 429, headers: { 'retry-after': '30' } }));

    // Act: every environment asks at once, then asks again.
    const first = await fleet.all(
      { type: 'burst', client: CLIENTS.cooldown, concurrency: CALLS_PER_WORKER },
      BURST_TIMEOUT_MS,
    );
    const second = await fleet.all(
      { type: 'burst', client: CLIENTS.cooldown, concurrency: 5 },
      BURST_TIMEOUT_MS,
    );

    // Assess
    expect(tokenRequests() - before).toBe(1);
    const errors = [...first, ...second].flat().map((outcome) => outcome.error);
    for (const error of errors) {
      expect(error).toMatchObject({ code: 'token_endpoint_unavailable', retryable: true });
      expect(error!.retryAfterSecs).toBeGreaterThanOrEqual(28);
      expect(error!.retryAfterSecs).toBeLessThanOrEqual(30);
    }
    const askers = first.filter((burst) => burst[0]?.error?.message.includes('HTTP 429'));
    expect(askers).toHaveLength(1);
    const coolingDown = errors.filter((error) => error!.message.includes('cooling down'));
    expect(coolingDown).toHaveLength(errors.length - CALLS_PER_WORKER);
  });
});

describe('a DynamoDB outage', () => {
  it('serves tokens fetched directly, one per environment, and warns', async () => {
    // Prepare: two environments whose DynamoDB endpoint is a closed port.
    const deadPort = await closedLoopbackPort();
    const fleet = await startFleet(2, () => ({ dynamoDbEndpoint: `http://127.0.0.1:${deadPort}` }));
    const before = tokenRequests();

    // Act
    const bursts = await fleet.all(
      { type: 'burst', client: CLIENTS.outage, concurrency: CALLS_PER_WORKER },
      BURST_TIMEOUT_MS,
    );
    const again = await fleet.all(
      { type: 'burst', client: CLIENTS.outage, concurrency: 5 },
      BURST_TIMEOUT_MS,
    );

    // Assess
    expect(tokenRequests() - before).toBe(2);
    for (const burst of bursts) {
      expect(hashesOf(burst).size).toBe(1);
      expect(new Set(tokensOf(burst).map((token) => token.source))).toEqual(
        new Set(['token_endpoint']),
      );
      expect(await stack.isActive([...hashesOf(burst)][0]!)).toBe(true);
    }
    expect(tokensOf(again.flat()).every((token) => token.source === 'broker_memory')).toBe(true);
    const reports = await fleet.all({ type: 'report' }, BURST_TIMEOUT_MS);
    for (const report of reports) {
      const warnings = report.logs.filter(
        (line) =>
          line.level === 'warn' && line.message === 'token cache unavailable, fetching directly',
      );
      expect(warnings).toHaveLength(1);
    }
  });
});

describe('secrets and tokens', () => {
  it('never appear in anything a worker logged or printed', () => {
    const everything = transcripts
      .flatMap((transcript) => [...transcript.output, JSON.stringify(transcript.reports)])
      .join('\n');
    const issued = stack.tokenServer.issuedTokens();

    expect(transcripts.length).toBeGreaterThanOrEqual(7);
    expect(issued.length).toBeGreaterThanOrEqual(10);
    for (const token of issued) expect(everything).not.toContain(token);
    for (const client of stack.clients.values()) {
      expect(everything).not.toContain(client.serverSecret);
      expect(everything).not.toContain(client.profileSecret);
    }
  });
});
