/**
 * The DynamoDB table through which the whole fleet shares tokens. One item per
 * cache key holds the token, its absolute expiry in epoch seconds and a TTL
 * attribute equal to that expiry. TTL deletes lazily, often days late, so the
 * item's presence proves nothing: readers compare `expiresAt` with the clock.
 *
 * Writes are conditional, so a token never replaces one that expires later,
 * and invalidation compares the token's hash before deleting, so a caller
 * reporting an old rejected token cannot evict its successor.
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
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

export type PutOutcome = 'stored' | 'newer_token_kept';

export class TokenTable {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  /** The item under `cacheKey` read with `ConsistentRead`, or undefined. */
  async get(cacheKey: string): Promise<CachedToken | undefined> {
    const reply = await this.dynamo.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { cacheKey: { S: cacheKey } },
        ConsistentRead: true,
      }),
    );
    return reply.Item ? fromItem(reply.Item) : undefined;
  }

  /** Stores the token unless the table already holds one that expires later. */
  async put(token: CachedToken): Promise<PutOutcome> {
    try {
      await this.dynamo.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: toItem(token),
          ConditionExpression: 'attribute_not_exists(cacheKey) OR expiresAt < :expiresAt',
          ExpressionAttributeValues: { ':expiresAt': { N: String(token.expiresAt) } },
        }),
      );
      return 'stored';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'newer_token_kept';
      throw error;
    }
  }

  /** Deletes the item only if it still holds the token with this hash. */
  async deleteIfHolds(cacheKey: string, hash: string): Promise<boolean> {
    try {
      await this.dynamo.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: { cacheKey: { S: cacheKey } },
          ConditionExpression: 'tokenHash = :hash',
          ExpressionAttributeValues: { ':hash': { S: hash } },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

function toItem(token: CachedToken): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {
    cacheKey: { S: token.cacheKey },
    accessToken: { S: token.accessToken },
    tokenType: { S: token.tokenType },
    tokenHash: { S: token.tokenHash },
    clientId: { S: token.clientId },
    profile: { S: token.profile },
    issuedAt: { N: String(token.issuedAt) },
    lifetimeSecs: { N: String(token.lifetimeSecs) },
    expiresAt: { N: String(token.expiresAt) },
    ttl: { N: String(token.expiresAt) },
  };
  // Empty strings are left out: older DynamoDB emulators refuse them.
  if (token.scope) item.scope = { S: token.scope };
  if (token.requestedScope) item.requestedScope = { S: token.requestedScope };
  return item;
}

/** An item that is not fully formed is treated as absent, never served. */
function fromItem(item: Record<string, AttributeValue>): CachedToken | undefined {
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
