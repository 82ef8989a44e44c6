/**
 * Bad input at the handlers themselves: the real modules of both functions,
 * loaded with every AWS endpoint and the stocks API pointed at a closed
 * loopback port, and every way out of the process refused by a fake that
 * records the attempt: `fetch` and the `send` of each SDK client. An invalid
 * event must be answered (broker) or thrown (stock sync) as a typed
 * `invalid_request` naming its field, with no call going anywhere.
 *
 * The parsers' own properties live in broker-request.test.ts and
 * test/unit/stocks; here the whole handler path is under test.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import fc from 'fast-check';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { isProfileName } from '../../shared/client-profile.js';
import { StockSyncError, ValidationError } from '../../shared/errors.js';
import { isScopeToken, MAX_SCOPES } from '../../shared/scopes.js';

/** Nothing listens here; a call that slipped past the fakes would fail at once. */
const CLOSED_PORT_URL = 'http://127.0.0.1:9';
const NUM_RUNS = 300;

type BrokerHandler = (typeof import('../../functions/token-broker/handler.js'))['handler'];
type StockSyncHandler = (typeof import('../../functions/stock-sync/handler.js'))['handler'];

let brokerHandler: BrokerHandler;
let stockSyncHandler: StockSyncHandler;

/** Every attempt to leave the process, by way out. */
const attempts: string[] = [];

function refuse(wayOut: string) {
  return async () => {
    attempts.push(wayOut);
    throw new Error(`unexpected ${wayOut} call in a bad-input test`);
  };
}

beforeAll(async () => {
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: CLOSED_PORT_URL,
    AWS_ENDPOINT_URL_DYNAMODB: CLOSED_PORT_URL,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: CLOSED_PORT_URL,
    AWS_ENDPOINT_URL_LAMBDA: CLOSED_PORT_URL,
    TOKENS_TABLE: 'bad-input-tokens',
    TOKEN_BROKER_FUNCTION: 'bad-input-tokenBroker',
    STOCKS_API_URL: CLOSED_PORT_URL,
    STOCKS_TABLE: 'bad-input-stocks',
    SYNC_RUNS_TABLE: 'bad-input-sync-runs',
    // Both Powertools utilities write to the global console in dev mode, which is muted below.
    POWERTOOLS_DEV: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  brokerHandler = (await import('../../functions/token-broker/handler.js')).handler;
  stockSyncHandler = (await import('../../functions/stock-sync/handler.js')).handler;
});

beforeEach(() => {
  attempts.length = 0;
  vi.spyOn(globalThis, 'fetch').mockImplementation(refuse('fetch'));
  vi.spyOn(DynamoDBClient.prototype, 'send').mockImplementation(refuse('DynamoDB'));
  vi.spyOn(SecretsManagerClient.prototype, 'send').mockImplementation(refuse('SecretsManager'));
  vi.spyOn(LambdaClient.prototype, 'send').mockImplementation(refuse('Lambda'));
  for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    vi.spyOn(console, level).mockImplementation(() => undefined);
  }
});

afterEach(() => {
  vi.restoreAllMocks();
});

// ---- Arbitraries ----

const controlChar = fc.integer({ min: 0, max: 0x1f }).map((code) => String.fromCharCode(code));
/** A string with a control character somewhere in it. */
const withControlChar = fc
  .tuple(fc.string({ maxLength: 20 }), controlChar, fc.string({ maxLength: 20 }))
  .map((parts) => parts.join(''));
/** Up to 200,000 characters, cheaply. */
const hugeString = fc
  .tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.integer({ min: 1_000, max: 25_000 }))
  .map(([unit, times]) => unit.repeat(times));
const nonString = fc.jsonValue().filter((value) => typeof value !== 'string');
const anyString = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), withControlChar, hugeString);

const badClient = fc.oneof(
  nonString,
  anyString.filter((value) => !isProfileName(value)),
  fc.constantFrom('', '../x', 'a/b', 'arn:aws:secretsmanager:*', '*', ' farfetch', 'x'.repeat(65)),
);

/** A valid scope repeated: duplicates alone are allowed and collapse, so they pad bad lists. */
const badScopeEntry = fc.oneof(
  nonString,
  anyString.filter((value) => !isScopeToken(value)),
  fc.constantFrom('', 'two words', 'quote"', 'back\\slash', 'ünïcode', 's'.repeat(201)),
);
const badScopes: fc.Arbitrary<{ scopes: unknown; field: string }> = fc.oneof(
  nonString.filter((value) => !Array.isArray(value)).map((scopes) => ({ scopes, field: 'scopes' })),
  fc.constant({ scopes: [], field: 'scopes' }),
  fc
    .integer({ min: MAX_SCOPES + 1, max: 5_000 })
    .map((length) => ({ scopes: Array(length).fill('stocks'), field: 'scopes' })),
  fc
    .tuple(fc.integer({ min: 1, max: MAX_SCOPES }), fc.nat(), badScopeEntry)
    .map(([length, at, entry]) => {
      const index = at % length;
      const scopes: unknown[] = Array(length).fill('stocks');
      scopes[index] = entry;
      return { scopes, field: `scopes[${index}]` };
    }),
);

const badHash = fc.oneof(
  nonString,
  anyString.filter((value) => !/^[0-9a-f]{12}$/.test(value)),
  fc.constantFrom('', 'ABCDEF012345', '0123456789abc', 'a raw access token'),
);

const unknownField = fc
  .oneof(fc.string({ minLength: 1 }), withControlChar, hugeString)
  .filter((name) => !['client', 'scopes', 'rejectedTokenHash', 'action'].includes(name));

/** A valid request with exactly one field made wrong, and the field the reply must name. */
const oneFieldWrong: fc.Arbitrary<{ event: Record<string, unknown>; field: string }> = fc.oneof(
  badClient.map((client) => ({ event: { client }, field: 'client' })),
  badScopes.map(({ scopes, field }) => ({ event: { client: 'farfetch', scopes }, field })),
  badHash.map((hash) => ({
    event: { client: 'farfetch', rejectedTokenHash: hash },
    field: 'rejectedTokenHash',
  })),
  fc.tuple(unknownField, fc.jsonValue()).map(([name, value]) => ({
    event: { client: 'farfetch', scopes: ['stocks', 'stocks'], [name]: value },
    field: JSON.stringify(name.slice(0, 64)),
  })),
);

// ---- Token broker ----

interface ErrorReply {
  error: { code: string; message: string; retryable: boolean };
}

function expectInvalidRequest(reply: unknown, field?: string): void {
  const { error } = reply as ErrorReply;
  expect(error).toMatchObject({ code: 'invalid_request', retryable: false });
  expect(Object.keys(error).sort()).toEqual(['code', 'message', 'retryable']);
  expect(error.message.length).toBeLessThan(300);
  expect(error.message).not.toMatch(/[\u0000-\u001f]/);
  if (field !== undefined) expect(error.message.startsWith(`${field}: `)).toBe(true);
  else expect(error.message).toMatch(/^(event|client|scopes|rejectedTokenHash|action|clients|")/);
}

describe('token broker handler', () => {
  it('answers a request with one field wrong with invalid_request naming that field, calling nothing', async () => {
    await fc.assert(
      fc.asyncProperty(oneFieldWrong, async ({ event, field }) => {
        // Act
        const reply = await brokerHandler(event);

        // Assess
        expectInvalidRequest(reply, field);
        expect(attempts).toEqual([]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('answers any JSON that is not a valid request with invalid_request, calling nothing', async () => {
    const notValid = fc.jsonValue({ maxDepth: 4 }).filter((event) => {
      const object = typeof event === 'object' && event !== null && !Array.isArray(event);
      // A valid token request or refresh would rightly go on to Secrets Manager.
      return !(object && (isProfileName(String(event.client)) || 'action' in event));
    });
    await fc.assert(
      fc.asyncProperty(notValid, async (event) => {
        const reply = await brokerHandler(event);

        expectInvalidRequest(reply);
        expect(attempts).toEqual([]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('answers a refresh event with any field wrong with invalid_request, calling nothing', async () => {
    const badRefresh = fc.oneof(
      fc.record({
        action: fc.jsonValue().filter((value) => value !== 'refresh'),
        clients: fc.constant(['farfetch']),
      }),
      fc.record({ action: fc.constant('refresh'), clients: fc.oneof(nonString, fc.constant([])) }),
      fc.record({
        action: fc.constant('refresh'),
        clients: fc.array(badClient, { minLength: 1, maxLength: 5 }),
      }),
      fc.record({
        action: fc.constant('refresh'),
        clients: fc.constant(Array(21).fill('farfetch')),
      }),
    );
    await fc.assert(
      fc.asyncProperty(badRefresh, async (event) => {
        const reply = await brokerHandler(event);

        expectInvalidRequest(reply);
        expect(attempts).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });
});

// ---- Stock sync: scheduled events ----

function scheduledEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: '0',
    id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: '2026-03-01T02:00:00Z',
    region: 'eu-west-1',
    resources: ['arn:aws:events:eu-west-1:123456789012:rule/token-broker-local-nightly-stock-sync'],
    detail: {},
    ...overrides,
  };
}

const wrongScheduledField: fc.Arbitrary<{ field: string; value: unknown }> = fc.oneof(
  fc
    .jsonValue()
    .filter((value) => value !== 'Scheduled Event')
    .map((value) => ({ field: 'detail-type', value })),
  fc
    .jsonValue()
    .filter((value) => value !== 'aws.events' && value !== 'aws.scheduler')
    .map((value) => ({ field: 'source', value })),
  fc
    .oneof(nonString, fc.constant(''), fc.string({ minLength: 129, maxLength: 2_000 }))
    .map((value) => ({ field: 'id', value })),
  fc
    .oneof(
      nonString,
      fc.string().filter((value) => !/^\d{4}-\d\d-\d\dT/.test(value)),
      fc.constantFrom('2026-13-01T02:00:00Z', '2026-03-01 02:00:00', '2026-03-01T02:00:00', ''),
    )
    .map((value) => ({ field: 'time', value })),
);

async function stockSyncFailure(event: unknown): Promise<unknown> {
  try {
    await stockSyncHandler(event);
  } catch (error) {
    return error;
  }
  throw new Error('the stock sync handler accepted a bad event');
}

describe('stock sync handler, scheduled events', () => {
  it('throws a ValidationError naming the one field wrong, calling nothing', async () => {
    await fc.assert(
      fc.asyncProperty(wrongScheduledField, async ({ field, value }) => {
        const error = await stockSyncFailure(scheduledEvent({ [field]: value }));

        expect(error).toBeInstanceOf(ValidationError);
        expect(error).toMatchObject({ field, code: 'invalid_request' });
        expect(attempts).toEqual([]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('throws a ValidationError for any JSON that is not a scheduled event, calling nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), async (event) => {
        const error = await stockSyncFailure(event);

        expect(error).toBeInstanceOf(ValidationError);
        expect(attempts).toEqual([]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  // Fails against shared/stocks/scheduled-event.ts as of this writing: `time`
  // is checked by pattern and `Date.parse`, which rolls 30 February over into
  // 2 March, so the run is recorded under the wrong night. stock-record.ts
  // already has the calendar check (`isRealDate`) that would refuse it.
  it('throws a ValidationError naming time for a date that does not exist', async () => {
    const error = await stockSyncFailure(scheduledEvent({ time: '2026-02-30T02:00:00Z' }));

    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field: 'time' });
    expect(attempts).toEqual([]);
  });
});

// ---- Stock sync: stock pages ----

const PAGE_FIELDS = ['number', 'totalPages', 'totalItems', 'entries'] as const;

/** A page envelope with one field wrong, and a broker that hands out a token. */
const wrongPageField: fc.Arbitrary<{ field: string; body: string }> = fc
  .tuple(
    fc.constantFrom(...PAGE_FIELDS),
    fc.oneof(fc.constant(undefined), fc.constantFrom(-1, 1.5, '1', null, true, {}), fc.jsonValue()),
  )
  .filter(([field, value]) =>
    field === 'entries'
      ? !Array.isArray(value)
      : !(Number.isSafeInteger(value) && (value as number) >= (field === 'number' ? 1 : 0)),
  )
  .map(([field, value]) => {
    const page: Record<string, unknown> = { number: 1, totalPages: 1, totalItems: 0, entries: [] };
    if (value === undefined) delete page[field];
    else page[field] = value;
    return { field, body: JSON.stringify(page) };
  });

describe('stock sync handler, stock pages', () => {
  it('fails the run as invalid_page naming the field, writing no stock and recording the failure', async () => {
    await fc.assert(
      fc.asyncProperty(wrongPageField, async ({ field, body }) => {
        // Prepare: the boundary fakes answer only what this run needs.
        const puts: Record<string, { S?: string; N?: string }>[] = [];
        const sent: string[] = [];
        vi.mocked(LambdaClient.prototype.send).mockImplementation(async () => ({
          StatusCode: 200,
          Payload: Buffer.from(
            JSON.stringify({
              accessToken: 'bad-input-token',
              tokenType: 'Bearer',
              expiresAt: Math.floor(Date.now() / 1000) + 2_400,
              scope: 'stocks',
              source: 'cache',
            }),
          ),
        }));
        vi.mocked(DynamoDBClient.prototype.send).mockImplementation(async (command) => {
          sent.push(command.constructor.name);
          if (command.constructor.name === 'PutItemCommand') {
            puts.push((command.input as { Item: (typeof puts)[number] }).Item);
            return {};
          }
          throw new Error(`unexpected ${command.constructor.name}`);
        });
        vi.mocked(globalThis.fetch).mockImplementation(
          async () => new Response(body, { headers: { 'content-type': 'application/json' } }),
        );

        // Act
        const error = await stockSyncFailure(scheduledEvent());

        // Assess
        expect(error).toBeInstanceOf(StockSyncError);
        expect(error).toMatchObject({ code: 'run_failed' });
        expect((error as Error).message).toContain(`invalid_page): stocks page 1: ${field} `);
        expect(sent.filter((name) => name !== 'PutItemCommand')).toEqual([]);
        expect(puts.at(-1)).toMatchObject({
          status: { S: 'failed' },
          errorCode: { S: 'invalid_page' },
          written: { N: '0' },
          pages: { N: '0' },
        });
      }),
      { numRuns: 100 },
    );
  });
});
