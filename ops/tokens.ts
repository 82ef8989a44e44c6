/**
 * `tokens status` and `tokens purge`: the shared tokens table seen from
 * outside. Neither ever reads an access token: scans project the item's
 * bookkeeping attributes and `tokenHash`, the short hash the broker stores
 * beside each token.
 */
import { ScanCommand, type AttributeValue, type ScanCommandInput } from '@aws-sdk/client-dynamodb';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { isServable } from '../shared/expiry.js';
import { TokenTable } from '../shared/token-table.js';
import type { CommandResult, OpsContext } from './context.js';
import { fromAwsError, NotFoundError, UsageError } from './errors.js';
import { isProfileName } from '../shared/client-profile.js';
import { formatDuration, formatTable, shortId, type Column } from './table.js';

/** Attributes read for status; `accessToken` is deliberately not among them. */
const STATUS_ATTRIBUTES = [
  'cacheKey',
  'profile',
  'clientId',
  'requestedScope',
  'scope',
  'tokenHash',
  'expiresAt',
  'lifetimeSecs',
  'leaseExpiresAtMs',
  'cooldownUntilMs',
  'failures',
  'version',
] as const;

export type TokenState = 'valid' | 'expiring' | 'expired' | 'none';

/** One cache key as `tokens status` reports it. */
export interface TokenKeyStatus {
  cacheKey: string;
  profile?: string;
  clientId?: string;
  /** Requested scopes the key was derived from (space-delimited). */
  scopes: string;
  /** `valid`: served; `expiring`: inside its expiry buffer, no longer served. */
  token: TokenState;
  tokenHash?: string;
  expiresAt?: number;
  /** Seconds until `expiresAt`; negative once past. */
  secondsLeft?: number;
  lease: 'free' | 'held' | 'lapsed';
  leaseMsLeft?: number;
  cooldownMsLeft?: number;
  failures: number;
  version: number;
}

/** What the table says about one item at `nowMs`; pure, for tests. */
export function tokenKeyStatus(
  item: Record<string, AttributeValue>,
  nowMs: number,
): TokenKeyStatus {
  const expiresAt = numberOf(item.expiresAt);
  const lifetimeSecs = numberOf(item.lifetimeSecs);
  const leaseEnd = numberOf(item.leaseExpiresAtMs);
  const cooldownEnd = numberOf(item.cooldownUntilMs);
  const status: TokenKeyStatus = {
    cacheKey: item.cacheKey?.S ?? '',
    scopes: item.requestedScope?.S ?? item.scope?.S ?? '',
    token: tokenState(expiresAt, lifetimeSecs, item.tokenHash?.S, nowMs),
    lease: leaseEnd === undefined ? 'free' : leaseEnd > nowMs ? 'held' : 'lapsed',
    failures: numberOf(item.failures) ?? 0,
    version: numberOf(item.version) ?? 0,
  };
  if (item.profile?.S) status.profile = item.profile.S;
  if (item.clientId?.S) status.clientId = item.clientId.S;
  if (item.tokenHash?.S && status.token !== 'none') status.tokenHash = item.tokenHash.S;
  if (expiresAt !== undefined && status.token !== 'none') {
    status.expiresAt = expiresAt;
    status.secondsLeft = Math.floor(expiresAt - nowMs / 1000);
  }
  if (status.lease === 'held') status.leaseMsLeft = leaseEnd! - nowMs;
  if (cooldownEnd !== undefined && cooldownEnd > nowMs) status.cooldownMsLeft = cooldownEnd - nowMs;
  return status;
}

export async function tokensStatus(ctx: OpsContext, profile?: string): Promise<CommandResult> {
  if (profile !== undefined && !isProfileName(profile)) {
    throw new UsageError('--profile must be 1-64 letters, digits, "-" or "_"');
  }
  const items = await scanTokens(ctx, profile);
  const nowMs = ctx.clock();
  const keys = items
    .map((item) => tokenKeyStatus(item, nowMs))
    .sort(
      (a, b) =>
        (a.profile ?? '').localeCompare(b.profile ?? '') || a.cacheKey.localeCompare(b.cacheKey),
    );
  const text = keys.length
    ? formatTable(STATUS_COLUMNS, keys)
    : `No cached token keys in ${ctx.target.tables.tokens}.\n`;
  return { data: { table: ctx.target.tables.tokens, keys }, text };
}

/**
 * Removes the tokens cached for `profile`, each only if it is still the token
 * the scan saw (the broker's own compare-and-delete, `TokenTable.invalidate`),
 * so a newer token written meanwhile is kept; the item's version and any
 * lease stay, as after an API's 401. Keys are hashes, so items are found by
 * their `profile` attribute. Two profiles with the same token URL, client id
 * and scopes share one key; the item then names whichever profile wrote it
 * last, and purging the other profile leaves that token in place.
 */
export async function purgeProfileTokens(ctx: OpsContext, profile: string): Promise<string[]> {
  const items = await scanTokens(ctx, profile, true);
  const table = new TokenTable(ctx.clients.dynamo, ctx.target.tables.tokens);
  const purged: string[] = [];
  for (const item of items) {
    const cacheKey = item.cacheKey?.S;
    const hash = item.tokenHash?.S;
    if (!cacheKey || !hash) continue;
    try {
      if (await table.invalidate(cacheKey, hash)) purged.push(hash);
    } catch (error) {
      throw fromAwsError(error, `removing a cached token of ${profile}`);
    }
  }
  return purged;
}

export async function tokensPurge(ctx: OpsContext, profile: string): Promise<CommandResult> {
  if (!isProfileName(profile)) throw new UsageError('<name> must be a profile name');
  const purged = await purgeProfileTokens(ctx, profile);
  if (purged.length === 0 && !(await profileExists(ctx, profile))) {
    throw new NotFoundError(`no profile ${profile} and no cached tokens of it`);
  }
  const text =
    purged.length === 0
      ? `No cached tokens of ${profile} in ${ctx.target.tables.tokens}.\n`
      : `Removed ${purged.length} cached token(s) of ${profile}: ${purged.join(', ')}\n`;
  return { data: { profile, purged: purged.length, tokenHashes: purged }, text };
}

const STATUS_COLUMNS: Column<TokenKeyStatus>[] = [
  { header: 'PROFILE', value: (key) => key.profile ?? '-' },
  { header: 'KEY', value: (key) => shortId(key.cacheKey) },
  { header: 'SCOPES', value: (key) => key.scopes || '-' },
  { header: 'TOKEN', value: (key) => key.token },
  { header: 'HASH', value: (key) => key.tokenHash ?? '-' },
  {
    header: 'TIME LEFT',
    value: (key) => (key.secondsLeft === undefined ? '-' : formatDuration(key.secondsLeft * 1000)),
    align: 'right',
  },
  {
    header: 'LEASE',
    value: (key) => (key.leaseMsLeft ? `held ${formatDuration(key.leaseMsLeft)}` : key.lease),
  },
  {
    header: 'COOLDOWN',
    value: (key) => (key.cooldownMsLeft ? formatDuration(key.cooldownMsLeft) : '-'),
  },
  { header: 'FAILURES', value: (key) => String(key.failures), align: 'right' },
  { header: 'VERSION', value: (key) => String(key.version), align: 'right' },
];

async function scanTokens(
  ctx: OpsContext,
  profile: string | undefined,
  withTokenOnly = false,
): Promise<Record<string, AttributeValue>[]> {
  // Every attribute through a placeholder: `scope` and `ttl` are reserved words.
  const names = Object.fromEntries(STATUS_ATTRIBUTES.map((name) => [`#${name}`, name]));
  const conditions: string[] = [];
  const values: Record<string, AttributeValue> = {};
  if (profile !== undefined) {
    conditions.push('#profile = :profile');
    values[':profile'] = { S: profile };
  }
  if (withTokenOnly) conditions.push('attribute_exists(#tokenHash)');
  const input: ScanCommandInput = {
    TableName: ctx.target.tables.tokens,
    ConsistentRead: true,
    ProjectionExpression: Object.keys(names).join(', '),
    ExpressionAttributeNames: names,
    ...(conditions.length ? { FilterExpression: conditions.join(' AND ') } : {}),
    ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
  };
  return scanAll(ctx, input);
}

async function scanAll(
  ctx: OpsContext,
  input: ScanCommandInput,
): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  try {
    do {
      const page = await ctx.clients.dynamo.send(
        new ScanCommand({ ...input, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  } catch (error) {
    throw fromAwsError(error, `scanning table ${input.TableName}`);
  }
  return items;
}

async function profileExists(ctx: OpsContext, profile: string): Promise<boolean> {
  try {
    await ctx.clients.secrets.send(
      new DescribeSecretCommand({ SecretId: `${ctx.target.secretPrefix}${profile}` }),
    );
    return true;
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceNotFoundException') return false;
    throw fromAwsError(error, `reading profile ${profile}`);
  }
}

function tokenState(
  expiresAt: number | undefined,
  lifetimeSecs: number | undefined,
  hash: string | undefined,
  nowMs: number,
): TokenState {
  if (expiresAt === undefined || lifetimeSecs === undefined || !hash) return 'none';
  if (isServable({ expiresAt, lifetimeSecs }, nowMs)) return 'valid';
  return expiresAt * 1000 > nowMs ? 'expiring' : 'expired';
}

function numberOf(value: AttributeValue | undefined): number | undefined {
  const parsed = Number(value?.N);
  return value?.N !== undefined && Number.isFinite(parsed) ? parsed : undefined;
}
