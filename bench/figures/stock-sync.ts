/**
 * Figure 5: stock sync throughput. The whole catalogue is synced from the
 * local stocks API into the local DynamoDB by the product's sync core and by
 * a baseline that writes one `PutItem` per record, each in a worker process
 * of its own, into a stocks table recreated empty before every run. Reported:
 * items written per second, the ratio of the two per trial, and each
 * worker's peak resident memory under the heap limits Lambda sets for the
 * function's memory size (the servers run in other processes, so dynalite's
 * memory is not included). dynalite runs in a process of its own, as
 * DynamoDB is a service of its own: in the benchmark's process its work would
 * share one thread with the stocks API's pages and the token server's
 * introspections, for the product and the baseline alike.
 */
import {
  CreateTableCommand,
  DeleteTableCommand,
  waitUntilTableExists,
  waitUntilTableNotExists,
} from '@aws-sdk/client-dynamodb';
import { tableDefinitions } from '../../local/tables.js';
import type { BenchContext } from '../context.js';
import { BENCH_STAGE } from '../local-servers.js';
import { spread, spreadOf, type Spread } from '../stats.js';
import { WorkerProcess, workerEnvironment } from '../../local/ipc-worker.js';
import type { StockSyncWorkerConfig, SyncMeasurement, SyncMode } from '../workers/protocol.js';
import { FUNCTION_MEMORY_MB } from '../targets.js';
import { rotate } from './cold-start.js';

const MODES: readonly SyncMode[] = ['product', 'baseline'];

/**
 * The V8 heap limits the Lambda Node.js runtime's bootstrap derives from the
 * configured memory: a tenth for the new space (half of it per semi-space),
 * the rest for the old space. Without them V8 sizes its heap from this
 * machine's memory and collects lazily, and the peak would say more about
 * the machine than about the function.
 */
export function lambdaHeapFlags(memoryMb: number): string[] {
  const newSpaceMb = Math.floor(memoryMb / 10);
  return [
    `--max-semi-space-size=${Math.floor(newSpaceMb / 2)}`,
    `--max-old-space-size=${memoryMb - newSpaceMb}`,
  ];
}

/** A run of the full catalogue must end within this, or the run fails. */
const SYNC_TIMEOUT_MS = 300_000;

export interface SyncModeResult {
  mode: SyncMode;
  itemsPerSec: Spread;
  elapsedMs: Spread;
  peakRssMb: Spread;
  peakHeapUsedMb: Spread;
  startRssMb: Spread;
  runs: SyncMeasurement[];
}

export interface StockSyncResult {
  totalItems: number;
  pageSize: number;
  product: SyncModeResult;
  baseline: SyncModeResult;
  /** Product items/s over baseline items/s, per trial. */
  speedup: Spread;
}

export async function measureStockSync(context: BenchContext): Promise<StockSyncResult> {
  const { totalItems, pageSize, trials } = context.params.stockSync;
  const stocksApi = await context.servers.startStocksApi(totalItems);
  const runs: Record<SyncMode, SyncMeasurement[]> = { product: [], baseline: [] };

  for (let trial = 0; trial < trials; trial++) {
    for (const mode of rotate(MODES, trial)) {
      await recreateStocksTable(context);
      const run = await syncOnce(context, { mode, stocksApiUrl: stocksApi.url, pageSize });
      if (run.status !== 'succeeded' || run.written !== totalItems) {
        throw new Error(`${mode} sync wrote ${run.written} of ${totalItems} (${run.status})`);
      }
      runs[mode].push(run);
      context.progress(
        `figure 5, trial ${trial + 1}/${trials}, ${mode}: ${Math.round(run.itemsPerSec)} items/s, ` +
          `peak ${(run.peakRssBytes / 2 ** 20).toFixed(0)} MB`,
      );
    }
  }

  return {
    totalItems,
    pageSize,
    product: modeResult('product', runs.product),
    baseline: modeResult('baseline', runs.baseline),
    speedup: spread(runs.product.map((run, i) => run.itemsPerSec / runs.baseline[i]!.itemsPerSec)),
  };
}

function modeResult(mode: SyncMode, runs: SyncMeasurement[]): SyncModeResult {
  return {
    mode,
    itemsPerSec: spreadOf(runs, (r) => r.itemsPerSec),
    elapsedMs: spreadOf(runs, (r) => r.elapsedMs),
    peakRssMb: spreadOf(runs, (r) => r.peakRssBytes / 2 ** 20),
    peakHeapUsedMb: spreadOf(runs, (r) => r.peakHeapUsedBytes / 2 ** 20),
    startRssMb: spreadOf(runs, (r) => r.startRssBytes / 2 ** 20),
    runs,
  };
}

async function syncOnce(
  context: BenchContext,
  run: Omit<StockSyncWorkerConfig, 'endpoints'>,
): Promise<SyncMeasurement> {
  const { endpoints } = context.servers;
  const config: StockSyncWorkerConfig = { ...run, endpoints };
  const worker = await WorkerProcess.start(
    `sync-${run.mode}`,
    context.workerBundles.stockSync,
    [JSON.stringify(config)],
    workerEnvironment(endpoints.region),
    { nodeFlags: lambdaHeapFlags(FUNCTION_MEMORY_MB) },
  );
  try {
    return await worker.request<SyncMeasurement>({ type: 'sync' }, SYNC_TIMEOUT_MS);
  } finally {
    await worker.stop();
  }
}

/** Drops the stocks table and creates it again, empty, so every run writes into the same state. */
async function recreateStocksTable(context: BenchContext): Promise<void> {
  const { dynamo, endpoints } = context.servers;
  const tableName = endpoints.tables.stocks;
  const definition = tableDefinitions(BENCH_STAGE).find((table) => table.TableName === tableName)!;
  const waiter = { client: dynamo, maxWaitTime: 10, minDelay: 1 };
  await dynamo.send(new DeleteTableCommand({ TableName: tableName }));
  await waitUntilTableNotExists(waiter, { TableName: tableName });
  await dynamo.send(new CreateTableCommand(definition));
  await waitUntilTableExists(waiter, { TableName: tableName });
}
