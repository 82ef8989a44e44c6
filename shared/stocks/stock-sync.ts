/**
 * One stock synchronization run: read every page of the stocks API, validate
 * each entry, write the valid ones and record a summary. Invalid entries are
 * counted and logged by key and reason; they never stop the others. A run
 * that cannot finish records what it did and then fails, so the schedule's
 * retry policy and dead-letter queue take over.
 */
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../clock.js';
import { BrokerError, StockSyncError } from '../errors.js';
import type { Log } from '../logger.js';
import { checkStockEntry, type StockRecord } from './stock-record.js';
import type { StocksApiClient, TokenProvider } from './stocks-api-client.js';
import type { StocksPage } from './stocks-page.js';
import type { StockWriter, StockWriteWindow } from './stock-writer.js';
import { newSyncRun, type SyncRunStore, type SyncRunSummary } from './sync-run-store.js';
import type { ScheduledStart } from './scheduled-event.js';

export interface StockSyncDeps {
  stocksApi: StocksApiClient;
  writer: StockWriter;
  runs: SyncRunStore;
  tokens: TokenProvider;
  log: Log;
  clock?: Clock;
  newRunId?: () => string;
}

/** Guard against a catalogue that claims more pages than any real one has. */
const MAX_PAGES = 100_000;

/** Rejected entries logged one by one per run; the rest are only counted. */
const MAX_REJECTIONS_LOGGED = 100;

export async function runStockSync(
  start: ScheduledStart,
  deps: StockSyncDeps,
): Promise<SyncRunSummary> {
  const clock = deps.clock ?? systemClock;
  const summary = newSyncRun(
    deps.newRunId?.() ?? randomUUID(),
    start.time,
    new Date(clock()).toISOString(),
  );
  await deps.runs.save(summary);
  deps.log.info('stock sync started', { runId: summary.runId, scheduledAt: start.time });

  try {
    summary.tokenSource = (await deps.tokens.getToken()).source;
    await syncAllPages(summary, deps, clock);
    summary.status = 'succeeded';
  } catch (error) {
    recordFailure(summary, error);
  }

  summary.finishedAt = new Date(clock()).toISOString();
  await deps.runs.save(summary);
  deps.log[summary.status === 'succeeded' ? 'info' : 'error']('stock sync finished', {
    ...summary,
  });
  return summary;
}

async function syncAllPages(summary: SyncRunSummary, deps: StockSyncDeps, clock: Clock) {
  const writes = deps.writer.begin(summary.runId);
  try {
    await readAndWritePages(summary, deps, clock, writes);
  } finally {
    // However the reading ended, the batches already sent finish and what
    // they wrote is counted.
    await writes.settle();
    summary.written = writes.written;
  }
  await writes.finish();
}

async function readAndWritePages(
  summary: SyncRunSummary,
  deps: StockSyncDeps,
  clock: Clock,
  writes: StockWriteWindow,
) {
  // Newest `updatedAt` written per key in this run, so an older duplicate on a
  // later page never overwrites a newer record.
  const newest = new Map<string, number>();
  let totalItems = 0;

  // The next page is read while the current one is written.
  let reading = deps.stocksApi.readPage(1);
  for (let pageNumber = 1; pageNumber <= Math.max(1, summary.totalPages); pageNumber++) {
    if (pageNumber > MAX_PAGES) throw new Error(`catalogue claims more than ${MAX_PAGES} pages`);
    const { page, tokenReplaced } = await reading;
    if (tokenReplaced) summary.tokenRefreshes++;
    if (pageNumber === 1) {
      summary.totalPages = page.totalPages;
      totalItems = page.totalItems;
    } else {
      assertUnchanged(page, summary.totalPages, totalItems);
    }
    summary.pages++;
    summary.itemsRead += page.entries.length;
    if (pageNumber < summary.totalPages) {
      reading = deps.stocksApi.readPage(pageNumber + 1);
      // Settled here if the write below fails first, so its error is not unhandled.
      reading.catch(() => undefined);
    }

    const accepted = acceptedRecords(page.entries, pageNumber, summary, newest, deps.log);
    // A newer record for a key an earlier page sent must not race that
    // write, so every batch in flight lands first.
    if (accepted.rewritesEarlierPage) await writes.settle();
    await writes.add(accepted.records, new Date(clock()).toISOString());
    // `finish` reports what could not be written.
    if (writes.failed) return;
  }
  if (summary.itemsRead !== totalItems) {
    throw new StockSyncError(
      'catalogue_incomplete',
      `read ${summary.itemsRead} entries but the catalogue announced ${totalItems}`,
    );
  }
}

/**
 * A catalogue that changes size while it is read cannot be trusted to have
 * been read whole: entries may have moved between pages already passed.
 */
function assertUnchanged(page: StocksPage, totalPages: number, totalItems: number): void {
  if (page.totalPages !== totalPages || page.totalItems !== totalItems) {
    throw new StockSyncError(
      'catalogue_changed',
      `stocks page ${page.number} announces ${page.totalItems} entries in ${page.totalPages} ` +
        `pages; page 1 announced ${totalItems} in ${totalPages}`,
    );
  }
}

/**
 * Valid records of one page that are newer than anything written for their
 * key in this run. Duplicate keys are counted, and the newest `updatedAt` wins
 * within the page and across pages. `rewritesEarlierPage` says whether one of
 * them replaces a record an earlier page already sent.
 */
function acceptedRecords(
  entries: unknown[],
  pageNumber: number,
  summary: SyncRunSummary,
  newest: Map<string, number>,
  log: Log,
): { records: StockRecord[]; rewritesEarlierPage: boolean } {
  const byKey = new Map<string, StockRecord>();
  let rewritesEarlierPage = false;
  entries.forEach((entry, index) => {
    const check = checkStockEntry(entry, `page ${pageNumber} entry ${index}`);
    if (!check.ok) {
      summary.rejected++;
      if (summary.rejected <= MAX_REJECTIONS_LOGGED) {
        log.warn('stock entry rejected', {
          key: check.key,
          reason: check.reason,
          page: pageNumber,
        });
      }
      return;
    }
    const updatedAtMs = Date.parse(check.record.updatedAt);
    const seenMs = newest.get(check.key);
    if (seenMs !== undefined) summary.duplicates++;
    // Instants, not text: `…00.500Z` sorts before `…00Z` as a string.
    if (seenMs !== undefined && seenMs >= updatedAtMs) return;
    if (seenMs !== undefined && !byKey.has(check.key)) rewritesEarlierPage = true;
    newest.set(check.key, updatedAtMs);
    byKey.set(check.key, check.record);
  });
  return { records: [...byKey.values()], rewritesEarlierPage };
}

function recordFailure(summary: SyncRunSummary, error: unknown): void {
  summary.status = 'failed';
  const code = (error as { code?: unknown }).code;
  summary.errorCode = typeof code === 'string' ? code : 'internal_error';
  summary.errorMessage = error instanceof Error ? error.message : String(error);
  if (error instanceof BrokerError) summary.errorCode = `token_unavailable:${error.code}`;
}
