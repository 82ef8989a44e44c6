/*
 * Bad stock pages on real local parts: the stock sync core (`runStockSync`
 * with the real `StocksApiClient`, `StockWriter` and `SyncRunStore`) reads
 * the stocks API stand-in and writes dynalite, with tokens from an
 * in-process broker and the oidc-provider token server. Each page envelope
 * field is made wrong in turn on page 2, and each record field in turn on
 * the entries of a one-page catalogue. Outcome: the run summary names what
 * was wrong, and the items it says it wrote are exactly the items in the
 * table carrying its run id.
 *
 * Bad broker events and scheduled events are driven through the handlers in
 * test/unit/handlers.property.test.ts; the parsers' own cases live in
 * test/unit/stocks.
 */
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stockRecordAt } from '../../local/stock-catalogue.js';
import {
  LOCAL_PROFILE,
  LOCAL_REGION,
  startLocalStack,
  type LocalStack,
} from '../../local/stack.js';
import type { BrokerTokenReply } from '../../shared/broker-request.js';
import type { CallerToken } from '../../shared/broker-client.js';
import { DEFAULT_SECRET_PREFIX } from '../../shared/constants.js';
import { tokenHash } from '../../shared/redact.js';
import { runStockSync } from '../../shared/stocks/stock-sync.js';
import { StocksApiClient, type TokenProvider } from '../../shared/stocks/stocks-api-client.js';
import { StockWriter } from '../../shared/stocks/stock-writer.js';
import { SyncRunStore, type SyncRunSummary } from '../../shared/stocks/sync-run-store.js';
import { inProcessBroker, type InProcessBroker } from '../faults/in-process-broker.js';
import { LogRecorder } from '../helpers/log-recorder.js';

const PAGE_SIZE = 100;
const TOTAL_ITEMS = 300;
const TOTAL_PAGES = TOTAL_ITEMS / PAGE_SIZE;

let stack: LocalStack;
let environment: InProcessBroker;
const log = new LogRecorder();

beforeAll(async () => {
  stack = await startLocalStack({
    lambda: false,
    totalItems: TOTAL_ITEMS,
    invalidEntries: new Map(),
  });
  environment = inProcessBroker({
    region: LOCAL_REGION,
    dynamoDbEndpoint: stack.endpoints.dynamodb,
    secretsManagerEndpoint: stack.endpoints.secretsManager,
    tokensTable: stack.tables.tokens,
    secretPrefix: DEFAULT_SECRET_PREFIX,
    environmentId: 'bad-input',
  });
});

afterAll(async () => {
  stack?.stocksApi.setFault(undefined);
  environment?.destroy();
  await stack?.stop();
});

function callerToken(reply: BrokerTokenReply): CallerToken {
  return { ...reply, source: reply.source };
}

const tokens: TokenProvider = {
  getToken: async () => callerToken(await environment.broker.getToken({ client: LOCAL_PROFILE })),
  replaceRejected: async (accessToken) =>
    callerToken(
      await environment.broker.getToken({
        client: LOCAL_PROFILE,
        rejectedTokenHash: tokenHash(accessToken),
      }),
    ),
};

/** One sync run on the real parts, with `pageBody` answering in place of some pages. */
async function syncWith(pageBody: (page: number) => string | undefined): Promise<SyncRunSummary> {
  stack.stocksApi.setFault(({ page }) => {
    const body = pageBody(page);
    return body === undefined
      ? undefined
      : { status: 200, body, headers: { 'content-type': 'application/json' } };
  });
  try {
    return await runStockSync(
      { eventId: 'bad-input-event', time: '2026-03-01T02:00:00.000Z' },
      {
        tokens,
        stocksApi: new StocksApiClient({
          baseUrl: stack.endpoints.stocksApi,
          pageSize: PAGE_SIZE,
          tokens,
          log,
          maxDelayMs: 50,
        }),
        writer: new StockWriter({
          dynamo: stack.clients.dynamo,
          tableName: stack.tables.stocks,
          log,
        }),
        runs: new SyncRunStore(stack.clients.dynamo, stack.tables.syncRuns),
        log,
      },
    );
  } finally {
    stack.stocksApi.setFault(undefined);
  }
}

/** Items of `table` carrying `runId`, through a bounded paginated scan. */
async function itemsOfRun(table: string, runId: string): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
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
    items.push(...(reply.Items ?? []));
    startKey = reply.LastEvaluatedKey;
    if (!startKey) return items;
  }
  throw new Error(`scan of ${table} did not end`);
}

async function expectSummaryMatchesTables(summary: SyncRunSummary): Promise<void> {
  const [stored] = await itemsOfRun(stack.tables.syncRuns, summary.runId);
  expect(stored?.status?.S).toBe(summary.status);
  expect(Number(stored?.written?.N)).toBe(summary.written);
  // Nothing written is lost, nothing unwritten is reported as written.
  expect(await itemsOfRun(stack.tables.stocks, summary.runId)).toHaveLength(summary.written);
}

// ---- Page envelopes ----

function page2(change: (page: Record<string, unknown>) => unknown): string {
  const page: Record<string, unknown> = {
    number: 2,
    totalPages: TOTAL_PAGES,
    totalItems: TOTAL_ITEMS,
    entries: Array.from({ length: PAGE_SIZE }, (_, index) => stockRecordAt(PAGE_SIZE + index)),
  };
  return JSON.stringify(change(page) ?? page);
}

interface EnvelopeRow {
  name: string;
  body: string;
  errorCode: string;
  message: string;
}

const ENVELOPE_ROWS: EnvelopeRow[] = [
  {
    name: 'a body that is a JSON array',
    body: '[]',
    errorCode: 'invalid_page',
    message: 'body is not a JSON object',
  },
  {
    name: 'a body cut short',
    body: page2(() => undefined).slice(0, 200),
    errorCode: 'invalid_page',
    message: 'body is not valid JSON',
  },
  {
    name: 'number as text',
    body: page2((p) => void (p.number = 'two')),
    errorCode: 'invalid_page',
    message: 'number must be a whole number',
  },
  {
    name: 'number of another page',
    body: page2((p) => void (p.number = 3)),
    errorCode: 'invalid_page',
    message: 'number is 3, not the page requested',
  },
  {
    name: 'totalPages negative',
    body: page2((p) => void (p.totalPages = -1)),
    errorCode: 'invalid_page',
    message: 'totalPages must be a whole number',
  },
  {
    name: 'totalPages changed',
    body: page2((p) => void (p.totalPages = TOTAL_PAGES + 1)),
    errorCode: 'catalogue_changed',
    message: 'stocks page 2 announces',
  },
  {
    name: 'totalItems fractional',
    body: page2((p) => void (p.totalItems = 300.5)),
    errorCode: 'invalid_page',
    message: 'totalItems must be a whole number',
  },
  {
    name: 'totalItems changed',
    body: page2((p) => void (p.totalItems = TOTAL_ITEMS - 1)),
    errorCode: 'catalogue_changed',
    message: 'stocks page 2 announces',
  },
  {
    name: 'entries missing',
    body: page2((p) => void delete p.entries),
    errorCode: 'invalid_page',
    message: 'entries must be an array',
  },
  {
    name: 'entries an object',
    body: page2((p) => void (p.entries = {})),
    errorCode: 'invalid_page',
    message: 'entries must be an array',
  },
  {
    name: 'more entries than the page size',
    body: page2((p) => void (p.entries = [...(p.entries as unknown[]), stockRecordAt(0)])),
    errorCode: 'invalid_page',
    message: `entries holds more than the ${PAGE_SIZE} requested`,
  },
];

describe('stock page envelopes with one field wrong', () => {
  it.each(ENVELOPE_ROWS)(
    'page 2 with $name fails the run as $errorCode, keeping page 1 written and counted',
    async (row) => {
      // Act
      const summary = await syncWith((page) => (page === 2 ? row.body : undefined));

      // Assess
      expect(summary).toMatchObject({
        status: 'failed',
        errorCode: row.errorCode,
        pages: 1,
        written: PAGE_SIZE,
      });
      expect(summary.errorMessage).toContain(row.message);
      await expectSummaryMatchesTables(summary);
    },
  );
});

// ---- Stock records ----

/** Each record field made wrong in each of a few ways. */
const WRONG_VALUES: Record<string, unknown[]> = {
  productId: [undefined, null, '', ' ', -1, 1.5, 'x'.repeat(129), 'a#b', 'tab\there'],
  variantId: [undefined, null, '', {}, 'v#1', 'nul\u0000'],
  warehouseId: [undefined, null, '', [], 'w#1'],
  sku: [undefined, null, '', 42, 's'.repeat(129)],
  size: [undefined, null, '  ', true],
  quantity: [undefined, null, -1, 1.5, '5', 1_000_000_001, Number.NaN],
  updatedAt: [
    undefined,
    null,
    '',
    'yesterday',
    '2026-02-30T00:00:00Z',
    '2026-03-01',
    1_772_000_000,
  ],
};

describe('stock records with one field wrong', () => {
  it('rejects each wrong record, writes every other one and counts both exactly', async () => {
    // Prepare: a one-page catalogue, the wrong records first.
    const wrong = Object.entries(WRONG_VALUES).flatMap(([field, values]) =>
      values.map((value) => ({ field, value })),
    );
    const entries = Array.from({ length: PAGE_SIZE }, (_, index) => {
      const record: Record<string, unknown> = { ...stockRecordAt(index) };
      const change = wrong[index];
      if (change && change.value === undefined) delete record[change.field];
      else if (change) record[change.field] = change.value;
      return record;
    });
    const body = JSON.stringify({ number: 1, totalPages: 1, totalItems: PAGE_SIZE, entries });

    // Act
    const summary = await syncWith((page) => (page === 1 ? body : undefined));

    // Assess
    expect(wrong.length).toBeLessThan(PAGE_SIZE);
    expect(summary).toMatchObject({
      status: 'succeeded',
      itemsRead: PAGE_SIZE,
      rejected: wrong.length,
      written: PAGE_SIZE - wrong.length,
    });
    await expectSummaryMatchesTables(summary);
    const rejections = log.entries.filter((entry) => entry.message === 'stock entry rejected');
    const reasons = rejections.map((entry) => (entry.fields[0] as { reason: string }).reason);
    for (const field of Object.keys(WRONG_VALUES)) {
      expect(reasons.some((reason) => reason.startsWith(field))).toBe(true);
    }
  });
});
