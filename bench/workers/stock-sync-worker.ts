/**
 * Figure 5's worker: one stock sync of the whole catalogue in a process of
 * its own, so its peak memory is its own (the servers run elsewhere).
 *
 * - `product`: the real sync core, `runStockSync` with `StocksApiClient`,
 *   `StockWriter` (BatchWriteItem, 25 per batch, `BATCH_WRITE_CONCURRENCY` in flight) and
 *   `SyncRunStore`, as the function wires them.
 * - `baseline`: the same page reads and the same entry check, then one
 *   `PutItem` per record, with as many records in flight as the product.
 *
 * Both get tokens from an in-process `TokenBroker` on the shared table.
 */
import { PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BATCH_WRITE_CONCURRENCY, BATCH_WRITE_MAX_ITEMS } from '../../shared/constants.js';
import { checkStockEntry, type StockRecord } from '../../shared/stocks/stock-record.js';
import { StocksApiClient } from '../../shared/stocks/stocks-api-client.js';
import { runStockSync } from '../../shared/stocks/stock-sync.js';
import { stockItem, StockWriter } from '../../shared/stocks/stock-writer.js';
import { SyncRunStore } from '../../shared/stocks/sync-run-store.js';
import { BrokerTokenProvider } from './broker-token-provider.js';
import { brokerParts, quietLog, serveCommands } from './environment.js';
import type { StockSyncWorkerConfig, SyncMeasurement } from './protocol.js';

/**
 * Records the baseline writes at once: as many as the product has in flight
 * (`BATCH_WRITE_CONCURRENCY` batches of `BATCH_WRITE_MAX_ITEMS`), so the two
 * differ only in how many records one request carries.
 */
export const BASELINE_IN_FLIGHT = BATCH_WRITE_CONCURRENCY * BATCH_WRITE_MAX_ITEMS;

/** A sync of 100,000 records takes well under this on two cores. */
const MAX_LIFETIME_MS = 540_000;

const config = JSON.parse(process.argv[2] ?? '') as StockSyncWorkerConfig;
const parts = brokerParts(config.endpoints);
const tokens = new BrokerTokenProvider(parts.newBroker(), config.endpoints.profileName);
const stocksApi = new StocksApiClient({
  baseUrl: config.stocksApiUrl,
  pageSize: config.pageSize,
  tokens,
  log: quietLog,
});

/** How often the memory in use is sampled during a sync. */
const HEAP_SAMPLE_MS = 10;

async function sync(): Promise<SyncMeasurement> {
  const startRssBytes = process.memoryUsage().rss;
  let peakHeapUsedBytes = process.memoryUsage().heapUsed;
  let peakExternalBytes = process.memoryUsage().external;
  let sampledPeakRssBytes = startRssBytes;
  const sampler = setInterval(() => {
    const usage = process.memoryUsage();
    peakHeapUsedBytes = Math.max(peakHeapUsedBytes, usage.heapUsed);
    peakExternalBytes = Math.max(peakExternalBytes, usage.external);
    sampledPeakRssBytes = Math.max(sampledPeakRssBytes, usage.rss);
  }, HEAP_SAMPLE_MS);
  const started = performance.now();
  const outcome = await (
    config.mode === 'product' ? productSync() : baselineSync(parts.dynamo)
  ).finally(() => clearInterval(sampler));
  const elapsedMs = performance.now() - started;
  return {
    mode: config.mode,
    ...outcome,
    elapsedMs,
    itemsPerSec: outcome.written / (elapsedMs / 1000),
    peakRssBytes: residentHighWaterMark() ?? sampledPeakRssBytes,
    peakHeapUsedBytes,
    peakExternalBytes,
    startRssBytes,
  };
}

/**
 * The largest resident set of this process's own address space (`VmHWM`).
 * Not `process.resourceUsage().maxRSS`: Linux carries the parent's resident
 * set at fork time into a child's `maxrss` across `exec`, so a child of a
 * large parent would report the parent's size. Undefined where `/proc` is not.
 */
function residentHighWaterMark(): number | undefined {
  try {
    const match = /^VmHWM:\s*(\d+)\s*kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function productSync() {
  const summary = await runStockSync(
    { eventId: randomUUID(), time: new Date().toISOString() },
    {
      tokens,
      stocksApi,
      writer: new StockWriter({
        dynamo: parts.dynamo,
        tableName: config.endpoints.tables.stocks,
        log: quietLog,
      }),
      runs: new SyncRunStore(parts.dynamo, config.endpoints.tables.syncRuns),
      log: quietLog,
    },
  );
  return { itemsRead: summary.itemsRead, written: summary.written, status: summary.status };
}

async function baselineSync(dynamo: DynamoDBClient) {
  const runId = randomUUID();
  let itemsRead = 0;
  let written = 0;
  let totalPages = 1;
  for (let pageNumber = 1; pageNumber <= totalPages; pageNumber++) {
    const { page } = await stocksApi.readPage(pageNumber);
    totalPages = page.totalPages;
    itemsRead += page.entries.length;
    const records = page.entries.flatMap((entry, index) => {
      const check = checkStockEntry(entry, `page ${pageNumber} entry ${index}`);
      return check.ok ? [check.record] : [];
    });
    written += await putEach(dynamo, records, runId);
  }
  return { itemsRead, written, status: 'succeeded' };
}

/** One PutItem per record, `BASELINE_IN_FLIGHT` requests in flight. */
async function putEach(dynamo: DynamoDBClient, records: StockRecord[], runId: string) {
  const syncedAt = new Date().toISOString();
  let next = 0;
  const lane = async () => {
    while (next < records.length) {
      const record = records[next++]!;
      await dynamo.send(
        new PutItemCommand({
          TableName: config.endpoints.tables.stocks,
          Item: stockItem(record, runId, syncedAt),
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: BASELINE_IN_FLIGHT }, lane));
  return records.length;
}

serveCommands(async (command) => {
  if (command.type !== 'sync') throw new Error(`unknown command ${command.type}`);
  return sync();
}, MAX_LIFETIME_MS);
