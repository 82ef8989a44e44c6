import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDynamoDb, type LocalDynamoDb } from '../../local/dynamodb.js';
import { tableNames } from '../../local/tables.js';
import { tokenHash } from '../../shared/redact.js';
import { TokenTable, type CachedToken } from '../../shared/token-table.js';
import { FakeTokenTable } from '../helpers/fake-token-table.js';

const NOW_MS = 1_800_000_000_000;
const NOW_SECS = NOW_MS / 1000;
const LEASE_MS = 10_000;

let keyCounter = 0;

/** A fresh cache key per test, so tests share one server but never an item. */
function newKey(): string {
  keyCounter++;
  return `cache-key-${keyCounter}-${Math.random().toString(16).slice(2)}`;
}

function cachedToken(cacheKey: string, accessToken: string, expiresAt: number): CachedToken {
  return {
    cacheKey,
    accessToken,
    tokenType: 'Bearer',
    tokenHash: tokenHash(accessToken),
    expiresAt,
    lifetimeSecs: 2400,
    issuedAt: expiresAt - 2400,
    scope: 'stocks',
    requestedScope: 'stocks',
    clientId: 'ff_amazing_client',
    profile: 'farfetch',
  };
}

interface TableUnderTest {
  table: TokenTable;
  /** The item's `ttl` attribute, epoch seconds. */
  ttlOf(cacheKey: string): Promise<number | undefined>;
}

let dynamoDb: LocalDynamoDb;
let dynamo: DynamoDBClient;
const tableName = tableNames('local').tokens;

beforeAll(async () => {
  dynamoDb = await startDynamoDb();
  // Explicit endpoint, region and static credentials: nothing is looked up elsewhere.
  dynamo = new DynamoDBClient({
    endpoint: dynamoDb.endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

afterAll(async () => {
  dynamo?.destroy();
  await dynamoDb?.stop();
});

const implementations: [string, () => TableUnderTest][] = [
  [
    'TokenTable on dynalite',
    () => ({
      table: new TokenTable(dynamo, tableName),
      ttlOf: async (cacheKey) => {
        const reply = await dynamo.send(
          new GetItemCommand({ TableName: tableName, Key: { cacheKey: { S: cacheKey } } }),
        );
        const ttl = reply.Item?.ttl?.N;
        return ttl === undefined ? undefined : Number(ttl);
      },
    }),
  ],
  [
    'FakeTokenTable (the unit tests’ stand-in keeps the same conditions)',
    () => {
      const fake = new FakeTokenTable();
      return { table: fake.asTokenTable(), ttlOf: async (cacheKey) => fake.ttlOf(cacheKey) };
    },
  ],
];

describe.each(implementations)('%s', (_name, create) => {
  let subject: TableUnderTest;
  let table: TokenTable;
  let key: string;

  beforeEach(() => {
    subject = create();
    table = subject.table;
    key = newKey();
  });

  const lease = (leaseId: string, nowMs = NOW_MS, version?: number) => ({
    leaseId,
    nowMs,
    leaseMs: LEASE_MS,
    ttlSecs: Math.ceil((nowMs + LEASE_MS) / 1000),
    ...(version === undefined ? {} : { version }),
  });

  describe('get', () => {
    it('answers an empty item at version 0 for a key never written', async () => {
      // Act
      const item = await table.get(key);

      // Assess
      expect(item).toEqual({ version: 0, failures: 0 });
    });
  });

  describe('acquireLease', () => {
    it('takes the lease when none exists', async () => {
      // Act
      const taken = await table.acquireLease(key, lease('env-a'));

      // Assess
      expect(taken).toBe(true);
      expect(await table.get(key)).toEqual({
        version: 0,
        failures: 0,
        lease: { id: 'env-a', expiresAtMs: NOW_MS + LEASE_MS },
      });
    });

    it('refuses while another environment’s lease is live', async () => {
      // Prepare
      await table.acquireLease(key, lease('env-a'));

      // Act
      const taken = await table.acquireLease(key, lease('env-b', NOW_MS + LEASE_MS - 1));

      // Assess
      expect(taken).toBe(false);
      expect((await table.get(key)).lease?.id).toBe('env-a');
    });

    it('takes over a lease once it has lapsed', async () => {
      // Prepare
      await table.acquireLease(key, lease('env-a'));

      // Act
      const taken = await table.acquireLease(key, lease('env-b', NOW_MS + LEASE_MS + 1));

      // Assess
      expect(taken).toBe(true);
      expect((await table.get(key)).lease).toEqual({
        id: 'env-b',
        expiresAtMs: NOW_MS + 2 * LEASE_MS + 1,
      });
    });

    it('refuses while a fleet-wide cooldown runs, and allows once it has passed', async () => {
      // Prepare
      await table.acquireLease(key, lease('env-a'));
      await table.releaseLease(key, {
        leaseId: 'env-a',
        failed: true,
        cooldownUntilMs: NOW_MS + 30_000,
        ttlSecs: Math.ceil((NOW_MS + 30_000) / 1000),
      });

      // Act
      const during = await table.acquireLease(key, lease('env-b', NOW_MS + 29_999));
      const after = await table.acquireLease(key, lease('env-b', NOW_MS + 30_001));

      // Assess
      expect(during).toBe(false);
      expect(after).toBe(true);
    });

    it('takes the lease only while the item is still at the version given', async () => {
      // Prepare
      await table.acquireLease(key, lease('env-a'));
      await table.writeToken(cachedToken(key, 'at-1', NOW_SECS + 2400), 'env-a', NOW_MS);

      // Act
      const stale = await table.acquireLease(key, lease('env-b', NOW_MS, 0));
      const current = await table.acquireLease(key, lease('env-c', NOW_MS, 1));

      // Assess
      expect(stale).toBe(false);
      expect(current).toBe(true);
      expect((await table.get(key)).lease?.id).toBe('env-c');
    });

    it('treats an item without a version as version 0 and refuses any other version', async () => {
      // Act
      const other = await table.acquireLease(key, lease('env-a', NOW_MS, 1));
      const zero = await table.acquireLease(key, lease('env-a', NOW_MS, 0));

      // Assess
      expect(other).toBe(false);
      expect(zero).toBe(true);
    });
  });

  describe('writeToken', () => {
    it('stores the lease holder’s token, bumps the version and clears lease, cooldown and failures', async () => {
      // Prepare
      await table.acquireLease(key, lease('env-a'));
      await table.releaseLease(key, {
        leaseId: 'env-a',
        failed: true,
        cooldownUntilMs: NOW_MS + 1_000,
        ttlSecs: Math.ceil((NOW_MS + 1_000) / 1000),
      });
      await table.acquireLease(key, lease('env-a', NOW_MS + 2_000));
      const token = cachedToken(key, 'at-1', NOW_SECS + 2400);

      // Act
      const first = await table.writeToken(token, 'env-a', NOW_MS + 2_500);
      await table.acquireLease(key, lease('env-a', NOW_MS + 3_000));
      const second = await table.writeToken(
        cachedToken(key, 'at-2', NOW_SECS + 2500),
        'env-a',
        NOW_MS + 3_500,
      );

      // Assess
      expect(first).toEqual({ stored: true, version: 1 });
      expect(second).toEqual({ stored: true, version: 2 });
      expect(await table.get(key)).toEqual({
        version: 2,
        failures: 0,
        token: cachedToken(key, 'at-2', NOW_SECS + 2500),
      });
    });

    it('reads back exactly the token that was written', async () => {
      // Prepare
      const token = cachedToken(key, 'at-1', NOW_SECS + 2400);
      await table.acquireLease(key, lease('env-a'));

      // Act
      await table.writeToken(token, 'env-a', NOW_MS);

      // Assess
      expect((await table.get(key)).token).toEqual(token);
    });

    it('is refused while another environment holds a live lease', async () => {
      // Prepare
      await table.acquireLease(key, lease('env-a'));

      // Act
      const outcome = await table.writeToken(
        cachedToken(key, 'at-b', NOW_SECS + 2400),
        'env-b',
        NOW_MS + 1_000,
      );

      // Assess
      expect(outcome).toEqual({ stored: false });
      expect(await table.get(key)).toMatchObject({ version: 0, lease: { id: 'env-a' } });
      expect((await table.get(key)).token).toBeUndefined();
    });

    it('is allowed once the other environment’s lease has lapsed', async () => {
      // Prepare
      await table.acquireLease(key, lease('env-a'));

      // Act
      const outcome = await table.writeToken(
        cachedToken(key, 'at-b', NOW_SECS + 2400),
        'env-b',
        NOW_MS + LEASE_MS + 1,
      );

      // Assess
      expect(outcome).toEqual({ stored: true, version: 1 });
      expect((await table.get(key)).lease).toBeUndefined();
    });

    it('never replaces a token that expires later, nor one that expires at the same time', async () => {
      // Prepare
      await table.acquireLease(key, lease('env-a'));
      await table.writeToken(cachedToken(key, 'at-new', NOW_SECS + 2400), 'env-a', NOW_MS);

      // Act
      const older = await table.writeToken(
        cachedToken(key, 'at-stale', NOW_SECS + 2399),
        'env-b',
        NOW_MS,
      );
      const same = await table.writeToken(
        cachedToken(key, 'at-same', NOW_SECS + 2400),
        'env-b',
        NOW_MS,
      );

      // Assess
      expect(older).toEqual({ stored: false });
      expect(same).toEqual({ stored: false });
      expect(await table.get(key)).toMatchObject({
        version: 1,
        token: { accessToken: 'at-new' },
      });
    });

    it('sets the ttl attribute to the token’s expiresAt', async () => {
      // Prepare
      await table.acquireLease(key, lease('env-a'));

      // Act
      await table.writeToken(cachedToken(key, 'at-1', NOW_SECS + 2400), 'env-a', NOW_MS);

      // Assess
      expect(await subject.ttlOf(key)).toBe(NOW_SECS + 2400);
    });
  });

  describe('releaseLease', () => {
    it('records a failure and a cooldown and frees the lease for the holder', async () => {
      // Prepare
      await table.acquireLease(key, lease('env-a'));

      // Act
      await table.releaseLease(key, {
        leaseId: 'env-a',
        failed: true,
        cooldownUntilMs: NOW_MS + 30_000,
        ttlSecs: Math.ceil((NOW_MS + 30_000) / 1000),
      });

      // Assess
      expect(await table.get(key)).toEqual({
        version: 0,
        failures: 1,
        cooldownUntilMs: NOW_MS + 30_000,
      });
    });

    it('counts consecutive failures across releases', async () => {
      // Prepare
      for (let attempt = 0; attempt < 3; attempt++) {
        await table.acquireLease(key, lease(`env-${attempt}`));
        await table.releaseLease(key, { leaseId: `env-${attempt}`, failed: true });
      }

      // Act
      const item = await table.get(key);

      // Assess
      expect(item).toEqual({ version: 0, failures: 3 });
    });

    it('frees the lease without counting a failure when the fetch was not counted', async () => {
      // Prepare
      await table.acquireLease(key, lease('env-a'));

      // Act
      await table.releaseLease(key, { leaseId: 'env-a', failed: false });

      // Assess
      expect(await table.get(key)).toEqual({ version: 0, failures: 0 });
    });

    it('changes nothing when released by an environment that does not hold the lease', async () => {
      // Prepare
      await table.acquireLease(key, lease('env-a'));

      // Act
      await table.releaseLease(key, {
        leaseId: 'env-b',
        failed: true,
        cooldownUntilMs: NOW_MS + 30_000,
        ttlSecs: Math.ceil((NOW_MS + 30_000) / 1000),
      });

      // Assess
      expect(await table.get(key)).toEqual({
        version: 0,
        failures: 0,
        lease: { id: 'env-a', expiresAtMs: NOW_MS + LEASE_MS },
      });
    });

    it('keeps the stored token and its version', async () => {
      // Prepare
      const token = cachedToken(key, 'at-1', NOW_SECS + 2400);
      await table.acquireLease(key, lease('env-a'));
      await table.writeToken(token, 'env-a', NOW_MS);
      await table.acquireLease(key, lease('env-b', NOW_MS + 1_000, 1));

      // Act
      await table.releaseLease(key, {
        leaseId: 'env-b',
        failed: false,
        cooldownUntilMs: NOW_MS + 31_000,
        ttlSecs: Math.ceil((NOW_MS + 31_000) / 1000),
      });

      // Assess
      expect(await table.get(key)).toEqual({
        version: 1,
        failures: 0,
        token,
        cooldownUntilMs: NOW_MS + 31_000,
      });
    });

    // A cooldown's ttl must not bring the item's deletion before the expiry of
    // the valid token it still holds, or DynamoDB TTL may evict that token.
    it('stores the TTL its caller computed for a lease and a cooldown over a held token', async () => {
      // Prepare
      await table.acquireLease(key, lease('env-a'));
      await table.writeToken(cachedToken(key, 'at-1', NOW_SECS + 2400), 'env-a', NOW_MS);
      await table.acquireLease(key, {
        ...lease('env-b', NOW_MS + 1_000, 1),
        ttlSecs: NOW_SECS + 2400,
      });
      const ttlWhileLeased = await subject.ttlOf(key);

      // Act
      await table.releaseLease(key, {
        leaseId: 'env-b',
        failed: false,
        cooldownUntilMs: NOW_MS + 31_000,
        ttlSecs: NOW_SECS + 2400,
      });

      // Assess
      expect(ttlWhileLeased).toBe(NOW_SECS + 2400);
      expect(await subject.ttlOf(key)).toBe(NOW_SECS + 2400);
    });
  });

  describe('invalidate', () => {
    it('removes the token when the hash matches and keeps the version', async () => {
      // Prepare
      await table.acquireLease(key, lease('env-a'));
      await table.writeToken(cachedToken(key, 'at-1', NOW_SECS + 2400), 'env-a', NOW_MS);

      // Act
      const removed = await table.invalidate(key, tokenHash('at-1'));

      // Assess
      expect(removed).toBe(true);
      expect(await table.get(key)).toEqual({ version: 1, failures: 0 });
    });

    it('keeps the token when the hash is that of an older token', async () => {
      // Prepare
      await table.acquireLease(key, lease('env-a'));
      await table.writeToken(cachedToken(key, 'at-2', NOW_SECS + 2400), 'env-a', NOW_MS);

      // Act
      const removed = await table.invalidate(key, tokenHash('at-1'));

      // Assess
      expect(removed).toBe(false);
      expect((await table.get(key)).token?.accessToken).toBe('at-2');
    });

    it('answers false for a key that holds nothing', async () => {
      // Act
      const removed = await table.invalidate(key, tokenHash('at-1'));

      // Assess
      expect(removed).toBe(false);
    });

    it('lets the next lease holder write a token that expires earlier than the evicted one', async () => {
      // Prepare
      await table.acquireLease(key, lease('env-a'));
      await table.writeToken(cachedToken(key, 'at-1', NOW_SECS + 2400), 'env-a', NOW_MS);
      await table.invalidate(key, tokenHash('at-1'));
      await table.acquireLease(key, lease('env-b', NOW_MS + 1_000, 1));

      // Act
      const outcome = await table.writeToken(
        cachedToken(key, 'at-2', NOW_SECS + 1200),
        'env-b',
        NOW_MS + 1_000,
      );

      // Assess
      expect(outcome).toEqual({ stored: true, version: 2 });
    });
  });
});
