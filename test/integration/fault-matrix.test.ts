/*
 * The fault matrix: each fault injected for real on the local stack and its
 * outcome asserted. Tables of rows `{ name, inject, expect }`, one per part:
 *
 * - token server, DynamoDB, Secrets Manager, the lease: the broker core in
 *   this process (real `TokenBroker` over real SDK clients and `fetch`, short
 *   timeouts), talking to the stack's dynalite, Secrets Manager stand-in and
 *   oidc-provider, with a fault proxy (`test/faults/fault-proxy.ts`) or the
 *   stand-ins' fault hooks in between. Each row gets its own proxies, so its
 *   own token URL and cache key: no row sees another's token or cooldown.
 *   Outcome: a still-valid token keeps being served; with none, the exact
 *   typed error and whether it is retryable.
 * - the stock sync: invoked through the local Lambda endpoint with a real
 *   scheduled event while the stocks API answers badly. Outcome: the run
 *   summary in DynamoDB says what happened, and the items it says it wrote
 *   are exactly the items in the table carrying its run id.
 * - the broker function timing out: a second serverless-offline serves the
 *   broker with its DynamoDB behind a proxy that never answers; the caller's
 *   `BrokerClient` meets the function timeout.
 *
 * Already covered elsewhere and not repeated: every token reply shape
 * (sts-cases.test.ts), a holder process killed mid-fetch, the 429 cooldown
 * and a closed DynamoDB port across processes (fleet.test.ts), one 401 that
 * a fresh token cures (stock-sync.e2e.test.ts).
 */
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalLambda, type LocalLambda } from '../../local/lambda.js';
import { scheduledEvent } from '../../local/scheduled-event.js';
import { startSecretsManager, type LocalSecretsManager } from '../../local/secrets-manager.js';
import {
  LOCAL_CLIENT_ID,
  LOCAL_REGION,
  LOCAL_STAGE,
  startLocalStack,
  type InvokeResult,
  type LocalStack,
} from '../../local/stack.js';
import type { FaultHook } from '../../local/stocks-api.js';
import { BrokerClient } from '../../shared/broker-client.js';
import type { BrokerTokenReply } from '../../shared/broker-request.js';
import { tokenCacheKey } from '../../shared/cache-key.js';
import { DEFAULT_SECRET_PREFIX } from '../../shared/constants.js';
import { BrokerError, type BrokerErrorCode } from '../../shared/errors.js';
import { TokenTable } from '../../shared/token-table.js';
import { DYNAMODB_THROTTLED } from '../faults/canned-replies.js';
import { PASS, startFaultProxy, type FaultProxy, type ProxyFault } from '../faults/fault-proxy.js';
import {
  inProcessBroker,
  SDK_MAX_ATTEMPTS,
  type InProcessBroker,
  type InProcessBrokerConfig,
} from '../faults/in-process-broker.js';
import { LogRecorder } from '../helpers/log-recorder.js';

const TOTAL_ITEMS = 1_500;
/** The stock sync's page size (serverless.yml sets none, so the default). */
const PAGE_SIZE = 500;
/** Leases shorter than the product's, to match the in-process token deadline of 1 s. */
const LEASES = { leaseMs: 3_000, leaseWaitMs: 4_000 };
/** The broker function's timeout in serverless.yml. */
/**
 * The black-holed broker runs with an 8 s function timeout (`brokerTimeout`):
 * long enough to fall back past an unreachable DynamoDB (two 2 s attempts)
 * and fetch, too short to also wait out an unreachable token endpoint (8 s).
 */
const BROKER_FUNCTION_TIMEOUT_MS = 8_000;
/** Bound on the timed-out invoke: the function timeout and generous slack. */
const TIMED_OUT_INVOKE_BOUND_MS = 45_000;

let stack: LocalStack;
let tokenServerPort: number;
let dynamoDbPort: number;
const proxies: FaultProxy[] = [];
const environments: InProcessBroker[] = [];
let environmentCount = 0;
let profileCount = 0;

// ---- The broker function timing out (second Lambda server) ----

let blackHole: FaultProxy;
let timeoutSecrets: LocalSecretsManager;
let timeoutLambda: LocalLambda | undefined;
let timeoutLambdaClient: LambdaClient | undefined;
let timedOutCall: Promise<{ ok?: unknown; error?: unknown; elapsedMs: number }>;
let fallbackCall: Promise<{ ok?: unknown; error?: unknown; elapsedMs: number }>;
let blackHoledCaller: (client: string) => BrokerClient;

async function proxy(targetPort: number, fault: ProxyFault = PASS): Promise<FaultProxy> {
  const started = await startFaultProxy(targetPort, fault);
  proxies.push(started);
  return started;
}

/** A new profile whose token URL goes through `via`: a cache key of its own. */
async function profileVia(via: FaultProxy): Promise<string> {
  const name = `fault-row-${++profileCount}`;
  await stack.putProfile(name, {
    client_id: LOCAL_CLIENT_ID,
    client_secret: stack.clientSecret,
    token_url: `${via.url}/connect/token`,
    scopes: ['stocks'],
  });
  return name;
}

/** A fresh execution environment: empty broker memory, its own SDK clients. */
function environment(overrides: Partial<InProcessBrokerConfig> = {}): InProcessBroker {
  const created = inProcessBroker({
    region: LOCAL_REGION,
    dynamoDbEndpoint: stack.endpoints.dynamodb,
    secretsManagerEndpoint: stack.endpoints.secretsManager,
    tokensTable: stack.tables.tokens,
    secretPrefix: DEFAULT_SECRET_PREFIX,
    environmentId: `env-${++environmentCount}`,
    options: LEASES,
    ...overrides,
  });
  environments.push(created);
  return created;
}

interface ErrorOutcome {
  code: string;
  retryable: boolean;
  retryAfterSecs?: number;
}

/** The token, or the typed error as data; anything untyped fails the test. */
async function outcomeOf(
  call: Promise<BrokerTokenReply>,
): Promise<{ token?: BrokerTokenReply; error?: ErrorOutcome }> {
  try {
    return { token: await call };
  } catch (error) {
    if (!(error instanceof BrokerError)) throw error;
    return {
      error: {
        code: error.code,
        retryable: error.retryable,
        ...(error.retryAfterSecs === undefined ? {} : { retryAfterSecs: error.retryAfterSecs }),
      },
    };
  }
}

const tokenRequests = () => stack.tokenServer.stats().tokenRequests;

const portOf = (url: string) => Number(new URL(url).port);

beforeAll(async () => {
  blackHole = await startFaultProxy(0, { kind: 'stall' });
  timeoutSecrets = await startSecretsManager({ region: LOCAL_REGION });
  const [started] = await Promise.all([
    startLocalStack({ totalItems: TOTAL_ITEMS, invalidEntries: new Map() }),
    startBlackHoledBroker(),
  ]);
  stack = started;
  // Awaited here: its token request must not land in another row's count.
  fallbackCall = Promise.resolve(await startReachableCall());
  tokenServerPort = portOf(stack.endpoints.tokenUrl);
  dynamoDbPort = portOf(stack.endpoints.dynamodb);
});

afterAll(async () => {
  for (const created of environments) created.destroy();
  await Promise.all(proxies.map((started) => started.stop()));
  await timedOutCall?.catch(() => undefined);
  timeoutLambdaClient?.destroy();
  await timeoutLambda?.stop();
  await blackHole?.stop();
  await timeoutSecrets?.stop();
  await stack?.stop();
});

/**
 * Serves the broker function with its DynamoDB endpoint black-holed and
 * starts one token request through `BrokerClient`, left running while the
 * other rows go on; the last rows await it.
 */
async function startBlackHoledBroker(): Promise<void> {
  const secrets = { accessKeyId: 'local-stack', secretAccessKey: 'local-stack' };
  const admin = new SecretsManagerClient({
    region: LOCAL_REGION,
    credentials: secrets,
    endpoint: timeoutSecrets.endpoint,
  });
  await admin.send(
    new CreateSecretCommand({
      Name: `${DEFAULT_SECRET_PREFIX}farfetch`,
      SecretString: JSON.stringify({
        client_id: LOCAL_CLIENT_ID,
        client_secret: 'black-holed-broker-secret',
        token_url: `${blackHole.url}/connect/token`,
        scopes: ['stocks'],
      }),
    }),
  );
  admin.destroy();

  timeoutLambda = await startLocalLambda({
    stage: LOCAL_STAGE,
    env: {
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: secrets.accessKeyId,
      AWS_SECRET_ACCESS_KEY: secrets.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: blackHole.url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: timeoutSecrets.endpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    params: {
      stocksApiUrl: blackHole.url,
      region: LOCAL_REGION,
      brokerTimeout: String(BROKER_FUNCTION_TIMEOUT_MS / 1000),
    },
  });
  timeoutLambdaClient = new LambdaClient({
    region: LOCAL_REGION,
    credentials: secrets,
    endpoint: timeoutLambda.endpoint,
  });
  const lambda = timeoutLambdaClient;
  const functionName = timeoutLambda.functionName('tokenBroker');
  blackHoledCaller = (client) =>
    new BrokerClient({ lambda, functionName, client, log: new LogRecorder() });
  timedOutCall = boundedCall(blackHoledCaller('farfetch'));
}

/**
 * A profile of the black-holed broker whose token endpoint is the stack's
 * real token server: the broker must fall back past its unreachable
 * DynamoDB and fetch directly, within its function timeout.
 */
async function startReachableCall() {
  const admin = new SecretsManagerClient({
    region: LOCAL_REGION,
    credentials: { accessKeyId: 'local-stack', secretAccessKey: 'local-stack' },
    endpoint: timeoutSecrets.endpoint,
  });
  await admin.send(
    new CreateSecretCommand({
      Name: `${DEFAULT_SECRET_PREFIX}reachable`,
      SecretString: JSON.stringify({
        client_id: LOCAL_CLIENT_ID,
        client_secret: stack.clientSecret,
        token_url: stack.endpoints.tokenUrl,
        scopes: ['stocks'],
      }),
    }),
  );
  admin.destroy();
  return boundedCall(blackHoledCaller('reachable'));
}

function boundedCall(caller: BrokerClient) {
  const startedAtMs = Date.now();
  const bound = new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(new Error(`invoke still pending after ${TIMED_OUT_INVOKE_BOUND_MS} ms`)),
      TIMED_OUT_INVOKE_BOUND_MS,
    ).unref(),
  );
  return Promise.race([caller.getToken(), bound]).then(
    (ok) => ({ ok, elapsedMs: Date.now() - startedAtMs }),
    (error: unknown) => ({ error, elapsedMs: Date.now() - startedAtMs }),
  );
}

// ---- Token server ----

interface TokenServerRow {
  name: string;
  /** Applied to each proxy of the row (hook faults are server-wide and idempotent). */
  inject: (via: FaultProxy) => void;
  expect: { code: BrokerErrorCode; retryable: boolean; retryAfterSecs?: number };
}

const unavailable = { code: 'token_endpoint_unavailable', retryable: true } as const;

const serverAnswers =
  (status: number, body: string, headers: Record<string, string> = {}) =>
  () =>
    stack.tokenServer.setFault(() => ({ status, body, headers }));

const TOKEN_SERVER_ROWS: TokenServerRow[] = [
  {
    name: 'answers 500',
    inject: serverAnswers(500, 'Internal Server Error', { 'content-type': 'text/plain' }),
    expect: unavailable,
  },
  {
    name: 'answers 502 with a proxy’s HTML page',
    inject: serverAnswers(
      502,
      '<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>',
      { 'content-type': 'text/html' },
    ),
    expect: unavailable,
  },
  {
    name: 'answers 503 with a Retry-After beyond the deadline',
    inject: serverAnswers(503, '', { 'retry-after': '120' }),
    expect: { ...unavailable, retryAfterSecs: 120 },
  },
  {
    name: 'answers 429 without Retry-After',
    inject: serverAnswers(429, '{"error":"slow_down"}', { 'content-type': 'application/json' }),
    expect: unavailable,
  },
  {
    name: 'times out: accepts the connection, never answers',
    inject: (via) => via.setFault({ kind: 'stall' }),
    expect: unavailable,
  },
  {
    name: 'resets the connection mid-reply',
    inject: (via) => via.setFault({ kind: 'reset', afterReplyBytes: 20 }),
    expect: unavailable,
  },
  {
    name: 'replies slower than the deadline',
    inject: () => stack.tokenServer.setFault(() => ({ delayMs: 3_000 })),
    expect: unavailable,
  },
  {
    name: 'cuts its reply short',
    inject: (via) => via.setFault({ kind: 'cut', bodyBytes: 10 }),
    expect: unavailable,
  },
  {
    name: 'closes each connection at once',
    inject: (via) => via.setFault({ kind: 'close' }),
    expect: unavailable,
  },
];

describe('token server faults', () => {
  it.each(TOKEN_SERVER_ROWS)(
    'token server $name: a cached token is still served; a cold cache gets $expect.code',
    async (row) => {
      // Prepare: one key holds a valid token in the table, the other nothing.
      const warmVia = await proxy(tokenServerPort);
      const coldVia = await proxy(tokenServerPort);
      const warmClient = await profileVia(warmVia);
      const coldClient = await profileVia(coldVia);
      const cached = await environment().broker.getToken({ client: warmClient });
      // Every served token is due for refresh ahead, so serving it meets the fault.
      const serving = environment({
        options: { ...LEASES, refreshAheadRatio: 1, refreshAheadMaxSecs: 86_400 },
      });

      // Act
      row.inject(warmVia);
      row.inject(coldVia);
      try {
        const [warm, cold] = await Promise.all([
          serving.broker.getToken({ client: warmClient }),
          outcomeOf(environment().broker.getToken({ client: coldClient })),
        ]);
        await serving.broker.settled();
        const again = await serving.broker.getToken({ client: warmClient });

        // Assess
        expect(warm).toMatchObject({ accessToken: cached.accessToken, source: 'cache' });
        expect(again).toMatchObject({ accessToken: cached.accessToken, source: 'broker_memory' });
        expect(serving.log.messages('warn')).toContain('refresh ahead failed, current token kept');
        expect(cold.token).toBeUndefined();
        expect(cold.error).toEqual(row.expect);
      } finally {
        stack.tokenServer.setFault(undefined);
      }
    },
  );
});

// ---- DynamoDB ----

interface DynamoDbRow {
  name: string;
  fault: ProxyFault;
}

const DYNAMODB_ROWS: DynamoDbRow[] = [
  {
    name: 'throttled (ProvisionedThroughputExceeded)',
    fault: { kind: 'answer', reply: DYNAMODB_THROTTLED },
  },
  { name: 'unreachable (every connection closed)', fault: { kind: 'close' } },
  { name: 'stalled (accepts, never answers)', fault: { kind: 'stall' } },
];

describe('DynamoDB faults', () => {
  it.each(DYNAMODB_ROWS)(
    'DynamoDB $name: memory keeps serving, a new environment fetches directly and warns',
    async (row) => {
      // Prepare: a token in the table, and an environment holding it in memory.
      const client = await profileVia(await proxy(tokenServerPort));
      const cached = await environment().broker.getToken({ client });
      const dynamoVia = await proxy(dynamoDbPort);
      const holder = environment({ dynamoDbEndpoint: dynamoVia.url });
      expect(await holder.broker.getToken({ client })).toMatchObject({ source: 'cache' });
      const newcomer = environment({ dynamoDbEndpoint: dynamoVia.url });
      const before = tokenRequests();

      // Act
      dynamoVia.setFault(row.fault);
      const [fromMemory, fetched] = await Promise.all([
        holder.broker.getToken({ client }),
        newcomer.broker.getToken({ client }),
      ]);

      // Assess
      expect(fromMemory).toMatchObject({
        accessToken: cached.accessToken,
        source: 'broker_memory',
      });
      expect(fetched.source).toBe('token_endpoint');
      expect(fetched.expiresAt).toBeGreaterThan(Date.now() / 1000 + 60);
      expect(tokenRequests() - before).toBe(1);
      expect(newcomer.log.messages('warn')).toContain('token cache unavailable, fetching directly');
      expect(newcomer.counts.CacheFallback).toBe(1);
    },
  );

  it('DynamoDB conditional checks failing under contention: one token request serves every environment', async () => {
    // Prepare
    const client = await profileVia(await proxy(tokenServerPort));
    const fleet = Array.from({ length: 6 }, () => environment());
    const before = tokenRequests();

    // Act: every environment asks ten times at once; all but one lose the lease race.
    const replies = await Promise.all(
      fleet.flatMap((env) =>
        Array.from({ length: 10 }, () => outcomeOf(env.broker.getToken({ client }))),
      ),
    );

    // Assess
    expect(replies.filter((reply) => reply.error)).toEqual([]);
    expect(new Set(replies.map((reply) => reply.token?.accessToken)).size).toBe(1);
    expect(tokenRequests() - before).toBe(1);
    const fetchedBy = fleet.filter((env) => (env.counts.TokenRequest ?? 0) > 0);
    expect(fetchedBy).toHaveLength(1);
  });
});

// ---- Secrets Manager ----

interface SecretsRow {
  name: string;
  errorType:
    | 'ResourceNotFoundException'
    | 'AccessDeniedException'
    | 'DecryptionFailure'
    | 'ThrottlingException';
  /** GetSecretValue calls the fault answers: the SDK retries throttling only. */
  times: number;
  expect: { code: BrokerErrorCode; retryable: boolean };
}

const SECRETS_ROWS: SecretsRow[] = [
  {
    name: 'secret not found',
    errorType: 'ResourceNotFoundException',
    times: 1,
    expect: { code: 'unknown_client', retryable: false },
  },
  {
    name: 'access denied',
    errorType: 'AccessDeniedException',
    times: 1,
    expect: { code: 'secret_unavailable', retryable: false },
  },
  {
    name: 'decryption failure',
    errorType: 'DecryptionFailure',
    times: 1,
    expect: { code: 'secret_unavailable', retryable: false },
  },
  {
    name: 'throttling',
    errorType: 'ThrottlingException',
    times: SDK_MAX_ATTEMPTS,
    expect: { code: 'secret_unavailable', retryable: true },
  },
];

describe('Secrets Manager faults', () => {
  const secretReads = () => stack.secretsManager.stats().calls.GetSecretValue ?? 0;

  it.each(SECRETS_ROWS)(
    'Secrets Manager $name: a warm environment serves its token; a cold one gets $expect.code',
    async (row) => {
      // Prepare: an environment that read the profile and holds a token.
      const client = await profileVia(await proxy(tokenServerPort));
      const holder = environment();
      const cached = await holder.broker.getToken({ client });
      stack.secretsManager.failNext('GetSecretValue', row.errorType, row.times);
      const readsBefore = secretReads();

      // Act
      const warm = await holder.broker.getToken({ client });
      const readsByWarm = secretReads() - readsBefore;
      const cold = await outcomeOf(environment().broker.getToken({ client }));

      // Assess
      expect(warm).toMatchObject({ accessToken: cached.accessToken, source: 'broker_memory' });
      expect(readsByWarm).toBe(0);
      expect(cold.error).toEqual(row.expect);
      // Every injected failure was met by the cold environment; none is left over.
      expect(secretReads() - readsBefore).toBe(row.times);
    },
  );

  it('Secrets Manager throttling past the profile cache: the last good profile keeps serving', async () => {
    // Prepare: an environment whose profile copy is always due for a reread.
    const client = await profileVia(await proxy(tokenServerPort));
    const holder = environment({ profileTtlSecs: 0 });
    const cached = await holder.broker.getToken({ client });
    stack.secretsManager.failNext('GetSecretValue', 'ThrottlingException', SDK_MAX_ATTEMPTS);
    const readsBefore = secretReads();

    // Act
    const served = await holder.broker.getToken({ client });

    // Assess
    expect(served).toMatchObject({ accessToken: cached.accessToken, source: 'broker_memory' });
    expect(secretReads() - readsBefore).toBe(SDK_MAX_ATTEMPTS);
    expect(holder.log.messages('warn')).toContain('serving last good client profile');
  });
});

// ---- The lease ----

describe('the lease', () => {
  it('lease holder dying mid-fetch: waiting environments take over once its lease lapses', async () => {
    // Prepare: an environment took the lease for an empty key and died before
    // writing (fleet.test.ts kills a real process; here its lease is planted).
    const via = await proxy(tokenServerPort);
    const client = await profileVia(via);
    const cacheKey = tokenCacheKey(
      { tokenUrl: `${via.url}/connect/token`, clientId: LOCAL_CLIENT_ID },
      ['stocks'],
    );
    const leaseMs = 1_500;
    const plantedAtMs = Date.now();
    const taken = await new TokenTable(stack.clients.dynamo, stack.tables.tokens).acquireLease(
      cacheKey,
      {
        leaseId: 'dead-env:planted',
        nowMs: plantedAtMs,
        leaseMs,
        ttlSecs: Math.ceil((plantedAtMs + leaseMs) / 1000),
      },
    );
    expect(taken).toBe(true);
    const waiters = Array.from({ length: 3 }, () => environment());
    const before = tokenRequests();

    // Act
    const replies = await Promise.all(
      waiters.flatMap((env) =>
        Array.from({ length: 5 }, async () => {
          const reply = await outcomeOf(env.broker.getToken({ client }));
          return { ...reply, receivedAtMs: Date.now() };
        }),
      ),
    );

    // Assess
    expect(replies.filter((reply) => reply.error)).toEqual([]);
    expect(new Set(replies.map((reply) => reply.token?.accessToken)).size).toBe(1);
    expect(tokenRequests() - before).toBe(1);
    expect(Math.min(...replies.map((reply) => reply.receivedAtMs))).toBeGreaterThanOrEqual(
      plantedAtMs + leaseMs,
    );
    expect(waiters.reduce((sum, env) => sum + (env.counts.LeaseWait ?? 0), 0)).toBeGreaterThan(0);
  });
});

// ---- The stock sync ----

interface SyncRow {
  name: string;
  /** A fresh hook per run: the stocks API counts attempts per page for its whole life. */
  fault: () => FaultHook;
  expect: {
    status: 'succeeded' | 'failed';
    errorCode?: string;
    pages: number;
    written: number;
    errorMessage?: string;
  };
}

/** Answers `reply` to every request for `page`, or only to the first `times` of them. */
function pageAnswers(
  page: number,
  reply: ReturnType<FaultHook>,
  times = Infinity,
): () => FaultHook {
  return () => {
    let answered = 0;
    return (request) => {
      if (request.page !== page || answered >= times) return undefined;
      answered += 1;
      return reply;
    };
  };
}

const json = { 'content-type': 'application/json' };

const SYNC_ROWS: SyncRow[] = [
  {
    name: '401 mid-run that a fresh token does not cure',
    fault: pageAnswers(2, {
      status: 401,
      headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
    }),
    expect: {
      status: 'failed',
      errorCode: 'stocks_api_unauthorized',
      pages: 1,
      written: PAGE_SIZE,
    },
  },
  {
    name: '503 once on one page',
    fault: pageAnswers(2, { status: 503, body: '<html>Service Unavailable</html>' }, 1),
    expect: { status: 'succeeded', pages: 3, written: TOTAL_ITEMS },
  },
  {
    name: '500 on every attempt of the last page',
    fault: pageAnswers(3, { status: 500, body: '{"error":"server_error"}', headers: json }),
    expect: {
      status: 'failed',
      errorCode: 'stocks_api_unavailable',
      pages: 2,
      written: 2 * PAGE_SIZE,
      errorMessage: 'stocks page 3',
    },
  },
  {
    name: 'a malformed page',
    fault: pageAnswers(2, { status: 200, body: '{"number":2,"entries":[{"sku"', headers: json }),
    expect: {
      status: 'failed',
      errorCode: 'invalid_page',
      pages: 1,
      written: PAGE_SIZE,
      errorMessage: 'stocks page 2: body is not valid JSON',
    },
  },
  {
    name: 'an empty catalogue',
    fault: pageAnswers(1, {
      status: 200,
      body: JSON.stringify({ number: 1, totalPages: 0, totalItems: 0, entries: [] }),
      headers: json,
    }),
    expect: { status: 'succeeded', pages: 1, written: 0 },
  },
];

/** The run id, from a summary or from the error a failed run threw. */
function runIdOf(result: InvokeResult): string {
  const payload = result.payload as { runId?: string; errorMessage?: string };
  const id =
    payload.runId ?? /stock sync run ([0-9a-f-]{36}) failed/.exec(payload.errorMessage ?? '')?.[1];
  if (!id) throw new Error(`no run id in ${JSON.stringify(result).slice(0, 300)}`);
  return id;
}

function plain(item: Record<string, AttributeValue>): Record<string, string | number> {
  return Object.fromEntries(
    Object.entries(item).map(([name, value]) => [
      name,
      value.N !== undefined ? Number(value.N) : (value.S ?? ''),
    ]),
  );
}

/** Every item of `table` matching `runId`, read with a bounded paginated scan. */
async function itemsOfRun(
  table: string,
  runId: string,
): Promise<Record<string, string | number>[]> {
  const items: Record<string, string | number>[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  for (let page = 0; page < 100; page++) {
    const reply = await stack.clients.dynamo.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: 'runId = :runId',
        ExpressionAttributeValues: { ':runId': { S: runId } },
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    items.push(...(reply.Items ?? []).map(plain));
    startKey = reply.LastEvaluatedKey;
    if (!startKey) return items;
  }
  throw new Error(`scan of ${table} did not end`);
}

describe('stock sync faults (through the local Lambda endpoint)', () => {
  it.each(SYNC_ROWS)(
    'stocks API $name: the run $expect.status and its summary matches what the table holds',
    async (row) => {
      // Prepare
      stack.stocksApi.setFault(row.fault());

      // Act
      let result: InvokeResult;
      try {
        result = await stack.invoke('stockSync', scheduledEvent());
      } finally {
        stack.stocksApi.setFault(undefined);
      }

      // Assess
      const runId = runIdOf(result);
      const [summary] = await itemsOfRun(stack.tables.syncRuns, runId);
      const written = await itemsOfRun(stack.tables.stocks, runId);
      expect(summary).toMatchObject({
        status: row.expect.status,
        pages: row.expect.pages,
        written: row.expect.written,
      });
      // Nothing written is lost, nothing unwritten is reported as written.
      expect(written).toHaveLength(summary!.written as number);
      if (row.expect.status === 'failed') {
        expect(result.functionError).toBe('Unhandled');
        expect(summary).toMatchObject({ errorCode: row.expect.errorCode });
        expect(summary!.errorMessage).toContain(row.expect.errorMessage ?? '');
        expect(JSON.stringify(result.payload)).toContain(row.expect.errorCode);
      } else {
        expect(result.functionError).toBeUndefined();
        expect(result.payload).toMatchObject({ status: 'succeeded', written: row.expect.written });
        expect(summary).not.toHaveProperty('errorCode');
      }
    },
  );
});

// ---- The broker function timing out ----

describe('the broker function with its DynamoDB black-holed (second local Lambda server, 8 s timeout)', () => {
  it('times out, and the caller’s BrokerClient reports a retryable broker_unavailable', async () => {
    const outcome = await timedOutCall;

    expect(outcome.ok).toBeUndefined();
    expect(outcome.error).toBeInstanceOf(BrokerError);
    expect(outcome.error).toMatchObject({ code: 'broker_unavailable', retryable: true });
    // serverless-offline's timeout error carries no name of its own: `Error`.
    expect((outcome.error as Error).message).toMatch(/^token broker \S+ failed: \w+$/);
    expect(outcome.elapsedMs).toBeGreaterThanOrEqual(BROKER_FUNCTION_TIMEOUT_MS - 1_000);
  });

  it('falls back past DynamoDB and answers within the function timeout', async () => {
    const outcome = await fallbackCall;

    expect(outcome.error).toBeUndefined();
    expect(outcome.ok).toMatchObject({ source: 'token_endpoint' });
    expect(outcome.elapsedMs).toBeLessThan(BROKER_FUNCTION_TIMEOUT_MS);
  });
});
