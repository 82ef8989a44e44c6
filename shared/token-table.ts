/**
 * The DynamoDB table through which the whole fleet shares tokens. One item per
 * cache key holds the current token, a fencing `version`, at most one lease
 * and any fleet-wide cooldown. Every write is conditional; `docs/fleet-cache.md`
 * describes the item's states and who may write what.
 *
 * - A **lease** (`leaseId`, `leaseExpiresAtMs`) lets one environment fetch
 *   while the others wait. It is taken only when none is live and no cooldown
 *   runs; a holder that dies costs at most one lease period.
 * - A **token write** succeeds only if no one else holds a live lease and the
 *   table holds no token that expires later, so a stale writer can never
 *   overwrite a newer token. Each write increments `version`.
 * - **Invalidation** removes the token only if its hash still matches, so a
 *   report about an old token cannot evict its successor.
 * - TTL (`ttl`, epoch seconds) deletes lazily, often days late: the item's
 *   presence proves nothing, and readers compare `expiresAt` with the clock.
 *
 * Only single-item conditional writes are used (no transactions), so dynalite
 * runs the same code locally.
 */
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { tokenHash } from './redact.js';
import type { TokenGrant } from './token-grant.js';

/** A cached token and where it came from. */
export interface CachedToken extends TokenGrant {
  cacheKey: string;
  /** Short hash of the access token, for logs and compare-and-delete. */
  tokenHash: string;
  /** Epoch seconds at which the token request was sent. */
  issuedAt: number;
  clientId: string;
  profile: string;
  /** Requested scopes, normalized; the key was derived from them. */
  requestedScope: string;
}

/** Everything the table knows about one cache key. */
export interface TokenItem {
  token?: CachedToken;
  /** Incremented by every token write; 0 when none was ever written. */
  version: number;
  lease?: { id: string; expiresAtMs: number };
  /** Epoch ms before which no environment may ask the token server. */
  cooldownUntilMs?: number;
  /** Consecutive failed fetches since the last token was written. */
  failures: number;
}

/** `stored` with the item's new version, or `superseded` by another writer. */
export type WriteOutcome = { stored: true; version: number } | { stored: false };

export interface LeaseRequest {
  leaseId: string;
  /** Profile the lease is for, so an item without a token still names its owner. */
  profile?: string;
  nowMs: number;
  leaseMs: number;
  /** Take the lease only while the item is still at this version. */
  version?: number;
  /**
   * TTL to store, epoch seconds. The caller knows the item it read: past the
   * lease's end and past any token the item still holds (see the broker).
   */
  ttlSecs: number;
}

export interface LeaseRelease {
  leaseId: string;
  /** Count this release as a failed fetch. */
  failed: boolean;
  /** Fleet-wide cooldown to store, epoch ms. */
  cooldownUntilMs?: number;
  /**
   * TTL to store with a cooldown, epoch seconds: past the cooldown and past
   * any token the item still holds. Required with `cooldownUntilMs`.
   */
  ttlSecs?: number;
}

export class TokenTable {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  /** The item under `cacheKey`, read with `ConsistentRead`. */
  async get(cacheKey: string): Promise<TokenItem> {
    const reply = await this.dynamo.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: key(cacheKey),
        ConsistentRead: true,
      }),
    );
    return reply.Item ? fromItem(reply.Item) : { version: 0, failures: 0 };
  }

  /** Takes the lease if none is live and no cooldown runs; false if another holds it. */
  async acquireLease(cacheKey: string, request: LeaseRequest): Promise<boolean> {
    const values: Record<string, AttributeValue> = {
      ':id': { S: request.leaseId },
      ':profile': { S: request.profile ?? '-' },
      ':now': { N: String(request.nowMs) },
      ':until': { N: String(request.nowMs + request.leaseMs) },
      ':ttl': { N: String(request.ttlSecs) },
    };
    let condition =
      '(attribute_not_exists(leaseExpiresAtMs) OR leaseExpiresAtMs <= :now) AND ' +
      '(attribute_not_exists(cooldownUntilMs) OR cooldownUntilMs <= :now)';
    if (request.version !== undefined) {
      // Version 0 is how an item without the attribute reads.
      condition +=
        request.version === 0
          ? ' AND (attribute_not_exists(version) OR version = :version)'
          : ' AND version = :version';
      values[':version'] = { N: String(request.version) };
    }
    const taken = await this.conditional(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: key(cacheKey),
        UpdateExpression:
          'SET leaseId = :id, leaseExpiresAtMs = :until, #ttl = :ttl, #profile = if_not_exists(#profile, :profile)',
        ConditionExpression: condition,
        ExpressionAttributeNames: { '#ttl': 'ttl', '#profile': 'profile' },
        ExpressionAttributeValues: values,
      }),
    );
    return taken !== undefined;
  }

  /**
   * Writes a fresh token and clears the lease, the cooldown and the failure
   * count. Refused ('superseded') if another environment holds a live lease
   * or the table already holds a token that expires later.
   */
  async writeToken(token: CachedToken, leaseId: string, nowMs: number): Promise<WriteOutcome> {
    const fields = tokenFields(token);
    const names = Object.fromEntries(Object.keys(fields).map((name) => [`#${name}`, name]));
    const values: Record<string, AttributeValue> = {
      ...Object.fromEntries(Object.entries(fields).map(([name, value]) => [`:${name}`, value])),
      ':id': { S: leaseId },
      ':now': { N: String(nowMs) },
      ':zero': { N: '0' },
      ':one': { N: '1' },
    };
    const assignments = Object.keys(fields).map((name) => `#${name} = :${name}`);
    const written = await this.conditional(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: key(token.cacheKey),
        ReturnValues: 'UPDATED_NEW',
        UpdateExpression:
          `SET ${assignments.join(', ')}, version = if_not_exists(version, :zero) + :one ` +
          'REMOVE leaseId, leaseExpiresAtMs, cooldownUntilMs, failures',
        ConditionExpression:
          '(attribute_not_exists(leaseId) OR leaseId = :id OR leaseExpiresAtMs <= :now) AND ' +
          '(attribute_not_exists(#expiresAt) OR #expiresAt < :expiresAt)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
    return written ? { stored: true, version: numberOr(written.version, 0) } : { stored: false };
  }

  /** Gives the lease back after a failed fetch, recording the failure and any cooldown. */
  async releaseLease(cacheKey: string, release: LeaseRelease): Promise<void> {
    const sets: string[] = [];
    const values: Record<string, AttributeValue> = { ':id': { S: release.leaseId } };
    if (release.failed) {
      sets.push('failures = if_not_exists(failures, :zero) + :one');
      values[':zero'] = { N: '0' };
      values[':one'] = { N: '1' };
    }
    if (release.cooldownUntilMs !== undefined) {
      if (release.ttlSecs === undefined) throw new TypeError('a cooldown needs its ttlSecs');
      sets.push('cooldownUntilMs = :cooldown, #ttl = :cooldownTtl');
      values[':cooldown'] = { N: String(release.cooldownUntilMs) };
      values[':cooldownTtl'] = { N: String(release.ttlSecs) };
    }
    await this.conditional(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: key(cacheKey),
        UpdateExpression:
          (sets.length ? `SET ${sets.join(', ')} ` : '') + 'REMOVE leaseId, leaseExpiresAtMs',
        ConditionExpression: 'leaseId = :id',
        ...(release.cooldownUntilMs !== undefined
          ? { ExpressionAttributeNames: { '#ttl': 'ttl' } }
          : {}),
        ExpressionAttributeValues: values,
      }),
    );
  }

  /** Removes the token only if it is still the one with this hash. */
  async invalidate(cacheKey: string, hash: string): Promise<boolean> {
    const removed = await this.conditional(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: key(cacheKey),
        UpdateExpression:
          'REMOVE accessToken, tokenHash, expiresAt, lifetimeSecs, issuedAt, #scope, tokenType',
        ConditionExpression: 'tokenHash = :hash',
        ExpressionAttributeNames: { '#scope': 'scope' },
        ExpressionAttributeValues: { ':hash': { S: hash } },
      }),
    );
    return removed !== undefined;
  }

  /** Sends a conditional write: the attributes it returned, or undefined if its condition failed. */
  private async conditional(
    command: UpdateItemCommand,
  ): Promise<Record<string, AttributeValue> | undefined> {
    try {
      const output = await this.dynamo.send(command);
      return output.Attributes ?? {};
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }
}

function key(cacheKey: string): Record<string, AttributeValue> {
  return { cacheKey: { S: cacheKey } };
}

/** Token attributes as written; empty strings are left out (older emulators refuse them). */
function tokenFields(token: CachedToken): Record<string, AttributeValue> {
  const fields: Record<string, AttributeValue> = {
    accessToken: { S: token.accessToken },
    tokenType: { S: token.tokenType },
    tokenHash: { S: token.tokenHash },
    clientId: { S: token.clientId },
    profile: { S: token.profile },
    issuedAt: { N: String(token.issuedAt) },
    lifetimeSecs: { N: String(token.lifetimeSecs) },
    expiresAt: { N: String(token.expiresAt) },
    ttl: { N: String(Math.ceil(token.expiresAt)) },
  };
  if (token.scope) fields.scope = { S: token.scope };
  if (token.requestedScope) fields.requestedScope = { S: token.requestedScope };
  return fields;
}

function fromItem(item: Record<string, AttributeValue>): TokenItem {
  const state: TokenItem = {
    version: numberOr(item.version, 0),
    failures: numberOr(item.failures, 0),
  };
  const token = tokenFrom(item);
  if (token) state.token = token;
  const leaseExpiresAtMs = Number(item.leaseExpiresAtMs?.N);
  if (item.leaseId?.S && Number.isFinite(leaseExpiresAtMs)) {
    state.lease = { id: item.leaseId.S, expiresAtMs: leaseExpiresAtMs };
  }
  const cooldownUntilMs = Number(item.cooldownUntilMs?.N);
  if (Number.isFinite(cooldownUntilMs)) state.cooldownUntilMs = cooldownUntilMs;
  return state;
}

/** A token that is not fully formed is treated as absent, never served. */
function tokenFrom(item: Record<string, AttributeValue>): CachedToken | undefined {
  const accessToken = item.accessToken?.S;
  const expiresAt = Number(item.expiresAt?.N);
  const lifetimeSecs = Number(item.lifetimeSecs?.N);
  const issuedAt = Number(item.issuedAt?.N);
  const cacheKey = item.cacheKey?.S;
  if (!accessToken || !cacheKey || !Number.isFinite(expiresAt) || !(lifetimeSecs > 0)) {
    return undefined;
  }
  return {
    cacheKey,
    accessToken,
    tokenType: 'Bearer',
    tokenHash: item.tokenHash?.S ?? tokenHash(accessToken),
    scope: item.scope?.S ?? '',
    requestedScope: item.requestedScope?.S ?? '',
    clientId: item.clientId?.S ?? '',
    profile: item.profile?.S ?? '',
    issuedAt: Number.isFinite(issuedAt) ? issuedAt : expiresAt - lifetimeSecs,
    lifetimeSecs,
    expiresAt,
  };
}

function numberOr(value: AttributeValue | undefined, fallback: number): number {
  const parsed = Number(value?.N);
  return Number.isFinite(parsed) ? parsed : fallback;
}
