import { describe, expect, it } from 'vitest';
import type { CallerToken } from '../../../shared/broker-client.js';
import { BrokerError, StockSyncError } from '../../../shared/errors.js';
import type { ScheduledStart } from '../../../shared/stocks/scheduled-event.js';
import type { StockRecord } from '../../../shared/stocks/stock-record.js';
import { runStockSync, type StockSyncDeps } from '../../../shared/stocks/stock-sync.js';
import type { PageRead, StocksApiClient } from '../../../shared/stocks/stocks-api-client.js';
import { WriteIncompleteError, type StockWriter } from '../../../shared/stocks/stock-writer.js';
import type { SyncRunStore, SyncRunSummary } from '../../../shared/stocks/sync-run-store.js';
import { LogRecorder } from '../../helpers/log-recorder.js';

const RUN_ID = 'run-2026-03-01';
const START_MS = Date.parse('2026-03-01T02:00:05.000Z');
const PAGE_READ_MS = 60_000;
const START: ScheduledStart = { eventId: 'evt-1', time: '2026-03-01T02:00:00.000Z' };

function at(ms: number): string {
  return new Date(ms).toISOString();
}

function entry(n: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    productId: `P-${n}`,
    variantId: `V-${n}`,
    sku: `SKU-${n}`,
    size: 'L',
    warehouseId: 'WH-1',
    quantity: n,
    updatedAt: '2026-02-28T20:00:00Z',
    ...overrides,
  };
}

function entries(from: number, count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => entry(from + i));
}

type PageScript =
  { entries: unknown[]; totalPages: number; totalItems?: number; tokenReplaced?: boolean } | Error;

/** The run's surroundings, each fake refusing any call it was not scripted for. */
class World {
  now = START_MS;
  readonly log = new LogRecorder();
  readonly pagesRead: number[] = [];
  readonly writes: { records: StockRecord[]; runId: string; syncedAt: string }[] = [];
  readonly saved: SyncRunSummary[] = [];
  /** How many writes had been made each time the run waited for the batches in flight. */
  readonly settles: number[] = [];
  getTokenCalls = 0;
  writeFailures = new Map<number, Error>();
  tokenFailure: Error | undefined;

  /** What every page announces unless its script says otherwise: the entries of all pages. */
  private readonly catalogueItems: number;

  constructor(private readonly pages: Record<number, PageScript>) {
    this.catalogueItems = Object.values(pages).reduce(
      (sum, page) => sum + (page instanceof Error ? 0 : page.entries.length),
      0,
    );
  }

  readonly stocksApi = {
    readPage: async (pageNumber: number): Promise<PageRead> => {
      this.pagesRead.push(pageNumber);
      this.now += PAGE_READ_MS;
      const script = this.pages[pageNumber];
      if (!script) throw new Error(`unexpected read of page ${pageNumber}`);
      if (script instanceof Error) throw script;
      return {
        page: {
          number: pageNumber,
          totalPages: script.totalPages,
          totalItems: script.totalItems ?? this.catalogueItems,
          entries: script.entries,
        },
        tokenReplaced: script.tokenReplaced ?? false,
      };
    },
  };

  /** Each `add` is one write; a scripted failure takes the window down as a real one would. */
  readonly writer = {
    begin: (runId: string) => {
      let written = 0;
      let failure: Error | undefined;
      return {
        add: async (records: readonly StockRecord[], syncedAt: string) => {
          if (failure) throw new Error('unexpected add after a failed write');
          this.writes.push({ records: structuredClone([...records]), runId, syncedAt });
          failure = this.writeFailures.get(this.writes.length);
          written += failure instanceof WriteIncompleteError ? failure.written : records.length;
        },
        settle: async () => {
          this.settles.push(this.writes.length);
        },
        finish: async () => {
          if (failure) throw failure;
          return written;
        },
        get written() {
          return written;
        },
        get failed() {
          return failure !== undefined;
        },
      };
    },
  };

  readonly runs = {
    save: async (summary: SyncRunSummary) => {
      this.saved.push(structuredClone(summary));
    },
  };

  readonly tokens = {
    getToken: async (): Promise<CallerToken> => {
      this.getTokenCalls++;
      if (this.tokenFailure) throw this.tokenFailure;
      return { accessToken: 'at-sync', expiresAt: 1_900_000_000, scope: 'stocks', source: 'cache' };
    },
    replaceRejected: async (): Promise<CallerToken> => {
      throw new Error('unexpected replaceRejected call');
    },
  };

  deps(): StockSyncDeps {
    return {
      stocksApi: this.stocksApi as unknown as StocksApiClient,
      writer: this.writer as unknown as StockWriter,
      runs: this.runs as unknown as SyncRunStore,
      tokens: this.tokens,
      log: this.log,
      clock: () => this.now,
      newRunId: () => RUN_ID,
    };
  }

  warnings(): unknown[] {
    return this.log.entries.filter((e) => e.level === 'warn').map((e) => e.fields[0]);
  }
}

function runningSummary(): SyncRunSummary {
  return {
    runId: RUN_ID,
    scheduledAt: START.time,
    startedAt: at(START_MS),
    status: 'running',
    pages: 0,
    totalPages: 0,
    itemsRead: 0,
    written: 0,
    rejected: 0,
    duplicates: 0,
    tokenRefreshes: 0,
  };
}

describe('runStockSync', () => {
  it('saves the run as running, then as succeeded with exact counts over every page', async () => {
    // Prepare
    const world = new World({
      1: { entries: entries(0, 3), totalPages: 3 },
      2: { entries: entries(3, 3), totalPages: 3, tokenReplaced: true },
      3: { entries: entries(6, 1), totalPages: 3 },
    });

    // Act
    const summary = await runStockSync(START, world.deps());

    // Assess
    const finished: SyncRunSummary = {
      ...runningSummary(),
      status: 'succeeded',
      finishedAt: at(START_MS + 3 * PAGE_READ_MS),
      pages: 3,
      totalPages: 3,
      itemsRead: 7,
      written: 7,
      tokenSource: 'cache',
      tokenRefreshes: 1,
    };
    expect(world.saved).toEqual([runningSummary(), finished]);
    expect(summary).toEqual(finished);
    expect(world.pagesRead).toEqual([1, 2, 3]);
    expect(world.getTokenCalls).toBe(1);
    // Each page is written while the next one is read.
    expect(world.writes.map((w) => [w.records.length, w.runId, w.syncedAt])).toEqual([
      [3, RUN_ID, at(START_MS + 2 * PAGE_READ_MS)],
      [3, RUN_ID, at(START_MS + 3 * PAGE_READ_MS)],
      [1, RUN_ID, at(START_MS + 3 * PAGE_READ_MS)],
    ]);
    expect(world.writes[0]?.records[0]).toEqual(entry(0));
    // One window for the whole run: no page waits for the batches of the one before.
    expect(world.settles).toEqual([3]);
    expect(world.log.messages()).toEqual(['stock sync started', 'stock sync finished']);
    expect(world.log.entries[1]).toMatchObject({ level: 'info', fields: [finished] });
  });

  it('counts invalid entries as rejected, logs their key and reason and writes the rest', async () => {
    // Prepare
    const world = new World({
      1: {
        entries: [
          entry(1),
          entry(2, { quantity: -3 }),
          'not an entry',
          entry(4, { variantId: '' }),
        ],
        totalPages: 1,
      },
    });

    // Act
    const summary = await runStockSync(START, world.deps());

    // Assess
    expect(summary).toMatchObject({ status: 'succeeded', itemsRead: 4, rejected: 3, written: 1 });
    expect(world.writes[0]?.records.map((r) => r.variantId)).toEqual(['V-1']);
    expect(world.warnings()).toEqual([
      { key: 'V-2#WH-1', reason: 'quantity must not be negative', page: 1 },
      { key: 'page 1 entry 2', reason: 'entry is not an object', page: 1 },
      { key: 'page 1 entry 3', reason: 'variantId must be a non-empty id', page: 1 },
    ]);
    expect(world.log.messages('warn')).toEqual(Array(3).fill('stock entry rejected'));
  });

  it('logs at most 100 rejected entries per run but counts them all', async () => {
    // Prepare
    const bad = (from: number) => entries(from, 70).map((e) => ({ ...e, sku: '' }));
    const world = new World({
      1: { entries: bad(0), totalPages: 2 },
      2: { entries: [...bad(70), entry(999)], totalPages: 2 },
    });

    // Act
    const summary = await runStockSync(START, world.deps());

    // Assess
    expect(summary).toMatchObject({
      status: 'succeeded',
      rejected: 140,
      written: 1,
      itemsRead: 141,
    });
    expect(world.log.messages('warn')).toHaveLength(100);
  });

  it('collapses duplicate keys within a page to the newest updatedAt and counts them', async () => {
    // Prepare
    const world = new World({
      1: {
        entries: [
          entry(1, { quantity: 5, updatedAt: '2026-02-28T10:00:00Z' }),
          entry(1, { quantity: 9, updatedAt: '2026-02-28T12:00:00Z' }),
          entry(2),
          entry(1, { quantity: 7, updatedAt: '2026-02-28T11:00:00Z' }),
        ],
        totalPages: 1,
      },
    });

    // Act
    const summary = await runStockSync(START, world.deps());

    // Assess
    expect(summary).toMatchObject({ itemsRead: 4, duplicates: 2, written: 2, rejected: 0 });
    const written = world.writes[0]?.records ?? [];
    expect(written.map((r) => [r.variantId, r.quantity])).toEqual([
      ['V-1', 9],
      ['V-2', 2],
    ]);
  });

  // updatedAt values are compared as strings, which orders neither offsets
  // nor fractional seconds by time: "…00.500Z" sorts before "…00Z".
  it.each([
    ['fractional seconds', '2026-02-28T10:00:00.500Z', '2026-02-28T10:00:00Z'],
    ['offsets', '2026-02-28T09:30:00Z', '2026-02-28T10:00:00+01:00'],
  ])(
    'keeps the newest duplicate when updatedAt values differ in %s',
    async (_label, newer, older) => {
      // Prepare
      const world = new World({
        1: {
          entries: [
            entry(1, { quantity: 9, updatedAt: newer }),
            entry(1, { quantity: 5, updatedAt: older }),
          ],
          totalPages: 1,
        },
      });

      // Act
      await runStockSync(START, world.deps());

      // Assess
      expect(world.writes[0]?.records.map((r) => r.quantity)).toEqual([9]);
    },
  );

  it('writes a duplicate on a later page when it is newer, and counts it', async () => {
    // Prepare
    const world = new World({
      1: { entries: [entry(1, { quantity: 5, updatedAt: '2026-02-28T10:00:00Z' })], totalPages: 2 },
      2: { entries: [entry(1, { quantity: 9, updatedAt: '2026-02-28T12:00:00Z' })], totalPages: 2 },
    });

    // Act
    const summary = await runStockSync(START, world.deps());

    // Assess
    expect(summary).toMatchObject({ status: 'succeeded', itemsRead: 2, duplicates: 1, written: 2 });
    expect(world.writes.map((w) => w.records.map((r) => r.quantity))).toEqual([[5], [9]]);
  });

  it('lets every batch in flight land before sending a newer record for a key sent earlier', async () => {
    // Prepare
    const world = new World({
      1: { entries: [entry(1, { updatedAt: '2026-02-28T10:00:00Z' }), entry(2)], totalPages: 3 },
      2: { entries: [entry(3), entry(3, { updatedAt: '2026-02-28T21:00:00Z' })], totalPages: 3 },
      3: { entries: [entry(1, { updatedAt: '2026-02-28T12:00:00Z' })], totalPages: 3 },
    });

    // Act
    const summary = await runStockSync(START, world.deps());

    // Assess
    expect(summary).toMatchObject({ status: 'succeeded', duplicates: 2, written: 4 });
    // Only page 3 rewrites a key an earlier page sent; page 2's duplicate is its own.
    expect(world.settles).toEqual([2, 3]);
  });

  it('never overwrites a record with an older duplicate from a later page', async () => {
    // Prepare
    const world = new World({
      1: {
        entries: [entry(1, { quantity: 9, updatedAt: '2026-02-28T12:00:00Z' }), entry(2)],
        totalPages: 2,
      },
      2: {
        entries: [entry(1, { quantity: 5, updatedAt: '2026-02-28T10:00:00Z' }), entry(3)],
        totalPages: 2,
      },
    });

    // Act
    const summary = await runStockSync(START, world.deps());

    // Assess
    expect(summary).toMatchObject({ status: 'succeeded', itemsRead: 4, duplicates: 1, written: 3 });
    expect(world.writes.map((w) => w.records.map((r) => [r.variantId, r.quantity]))).toEqual([
      [
        ['V-1', 9],
        ['V-2', 2],
      ],
      [['V-3', 3]],
    ]);
  });

  it('does not rewrite a later-page duplicate with the same updatedAt', async () => {
    // Prepare
    const world = new World({
      1: { entries: [entry(1)], totalPages: 2 },
      2: { entries: [entry(1, { quantity: 3 })], totalPages: 2 },
    });

    // Act
    const summary = await runStockSync(START, world.deps());

    // Assess
    expect(summary).toMatchObject({ status: 'succeeded', duplicates: 1, written: 1 });
    expect(world.writes.map((w) => w.records.length)).toEqual([1, 0]);
  });

  it('succeeds with nothing written for an empty catalogue', async () => {
    // Prepare
    const world = new World({ 1: { entries: [], totalPages: 0 } });

    // Act
    const summary = await runStockSync(START, world.deps());

    // Assess
    expect(summary).toMatchObject({
      status: 'succeeded',
      pages: 1,
      totalPages: 0,
      itemsRead: 0,
      written: 0,
    });
    expect(world.pagesRead).toEqual([1]);
    expect(world.saved.map((s) => s.status)).toEqual(['running', 'succeeded']);
  });

  it('fails with catalogue_changed when a later page announces more pages', async () => {
    // Prepare
    const world = new World({
      1: { entries: entries(0, 2), totalPages: 2, totalItems: 4 },
      2: { entries: entries(2, 2), totalPages: 3, totalItems: 5 },
      3: { entries: entries(4, 1), totalPages: 3, totalItems: 5 },
    });

    // Act
    const summary = await runStockSync(START, world.deps());

    // Assess
    expect(summary).toMatchObject({
      status: 'failed',
      errorCode: 'catalogue_changed',
      errorMessage: 'stocks page 2 announces 5 entries in 3 pages; page 1 announced 4 in 2',
      pages: 1,
      totalPages: 2,
      itemsRead: 2,
      written: 2,
    });
    expect(world.pagesRead).toEqual([1, 2]);
    expect(world.writes).toHaveLength(1);
  });

  it('fails with catalogue_changed when only the announced entry count changes', async () => {
    // Prepare
    const world = new World({
      1: { entries: entries(0, 2), totalPages: 2, totalItems: 4 },
      2: { entries: entries(2, 2), totalPages: 2, totalItems: 3 },
    });

    // Act
    const summary = await runStockSync(START, world.deps());

    // Assess
    expect(summary).toMatchObject({ status: 'failed', errorCode: 'catalogue_changed' });
    expect(world.writes).toHaveLength(1);
  });

  it('fails with catalogue_incomplete when fewer entries were read than announced', async () => {
    // Prepare
    const world = new World({
      1: { entries: entries(0, 2), totalPages: 2, totalItems: 5 },
      2: { entries: entries(2, 2), totalPages: 2, totalItems: 5 },
    });

    // Act
    const summary = await runStockSync(START, world.deps());

    // Assess
    expect(summary).toMatchObject({
      status: 'failed',
      errorCode: 'catalogue_incomplete',
      errorMessage: 'read 4 entries but the catalogue announced 5',
      pages: 2,
      itemsRead: 4,
      written: 4,
    });
    expect(world.saved.map((s) => s.status)).toEqual(['running', 'failed']);
  });

  it('counts rejected entries towards the entries read against the announced total', async () => {
    // Prepare
    const world = new World({
      1: { entries: [entry(1), entry(2, { quantity: -1 })], totalPages: 1, totalItems: 2 },
    });

    // Act
    const summary = await runStockSync(START, world.deps());

    // Assess
    expect(summary).toMatchObject({ status: 'succeeded', itemsRead: 2, rejected: 1, written: 1 });
  });

  it('returns, rather than throws, a failed summary when page 3 cannot be read', async () => {
    // Prepare
    const unavailable = new StockSyncError(
      'stocks_api_unavailable',
      'stocks page 3 failed after 3 attempt(s): HTTP 503: "down"',
    );
    const world = new World({
      1: { entries: entries(0, 4), totalPages: 5 },
      2: { entries: entries(4, 3), totalPages: 5 },
      3: unavailable,
    });

    // Act
    const summary = await runStockSync(START, world.deps());

    // Assess
    const failed: SyncRunSummary = {
      ...runningSummary(),
      status: 'failed',
      finishedAt: at(START_MS + 3 * PAGE_READ_MS),
      pages: 2,
      totalPages: 5,
      itemsRead: 7,
      written: 7,
      tokenSource: 'cache',
      errorCode: 'stocks_api_unavailable',
      errorMessage: 'stocks page 3 failed after 3 attempt(s): HTTP 503: "down"',
    };
    expect(summary).toEqual(failed);
    expect(world.saved).toEqual([runningSummary(), failed]);
    expect(world.pagesRead).toEqual([1, 2, 3]);
    expect(world.log.entries.at(-1)).toMatchObject({
      level: 'error',
      message: 'stock sync finished',
      fields: [failed],
    });
  });

  it('adds what a failed write did write to the count and stops', async () => {
    // Prepare
    const world = new World({
      1: { entries: entries(0, 30), totalPages: 3 },
      2: { entries: entries(30, 30), totalPages: 3 },
      3: { entries: entries(60, 1), totalPages: 3 },
    });
    world.writeFailures.set(2, new WriteIncompleteError(25, 5));

    // Act
    const summary = await runStockSync(START, world.deps());

    // Assess
    expect(summary).toMatchObject({
      status: 'failed',
      pages: 2,
      itemsRead: 60,
      written: 30 + 25,
      errorCode: 'write_incomplete',
      errorMessage: '5 stock item(s) could not be written',
    });
    // Page 3 was read ahead while page 2 was written; nothing of it was written.
    expect(world.pagesRead).toEqual([1, 2, 3]);
    expect(world.writes).toHaveLength(2);
  });

  it('records token_unavailable with the broker code when the first token cannot be had', async () => {
    // Prepare
    const world = new World({});
    world.tokenFailure = new BrokerError('token_endpoint_unavailable', 'token endpoint timed out', {
      retryable: true,
    });

    // Act
    const summary = await runStockSync(START, world.deps());

    // Assess
    expect(summary).toEqual({
      ...runningSummary(),
      status: 'failed',
      finishedAt: at(START_MS),
      errorCode: 'token_unavailable:token_endpoint_unavailable',
      errorMessage: 'token endpoint timed out',
    });
    expect(world.pagesRead).toEqual([]);
    expect(world.writes).toEqual([]);
    expect(world.saved.map((s) => s.status)).toEqual(['running', 'failed']);
  });

  it('records token_unavailable when a fresh token cannot be had mid-run', async () => {
    // Prepare
    const world = new World({
      1: { entries: [entry(1)], totalPages: 2 },
      2: new BrokerError('broker_unavailable', 'token broker did not answer'),
    });

    // Act
    const summary = await runStockSync(START, world.deps());

    // Assess
    expect(summary).toMatchObject({
      status: 'failed',
      pages: 1,
      written: 1,
      errorCode: 'token_unavailable:broker_unavailable',
    });
  });

  it('records internal_error for a failure that carries no code', async () => {
    // Prepare
    const world = new World({ 1: new RangeError('boom') });

    // Act
    const summary = await runStockSync(START, world.deps());

    // Assess
    expect(summary).toMatchObject({
      status: 'failed',
      errorCode: 'internal_error',
      errorMessage: 'boom',
    });
  });

  it('gives the run a random UUID when no run id source is given', async () => {
    // Prepare
    const world = new World({ 1: { entries: [], totalPages: 0 } });
    const { newRunId: _unused, ...deps } = world.deps();

    // Act
    const summary = await runStockSync(START, deps);

    // Assess
    expect(summary.runId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(world.saved.map((s) => s.runId)).toEqual([summary.runId, summary.runId]);
  });
});
