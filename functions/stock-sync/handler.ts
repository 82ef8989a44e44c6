/**
 * Nightly stock sync Lambda, started by an EventBridge schedule. It parses the
 * scheduled event, runs one sync and returns its summary. A run that could not
 * finish is thrown as a function error after its summary is recorded, so the
 * schedule's retry policy and dead-letter queue take over.
 */
import type { Context } from 'aws-lambda';
import { brokerInvokeClient, stockTableClient } from '../../shared/aws-clients.js';
import { BrokerClient } from '../../shared/broker-client.js';
import { readStockSyncConfig } from '../../shared/config.js';
import { StockSyncError } from '../../shared/errors.js';
import { createLogger } from '../../shared/logger.js';
import { powertoolsMetrics } from '../../shared/metrics.js';
import { parseScheduledEvent } from '../../shared/stocks/scheduled-event.js';
import { StocksApiClient } from '../../shared/stocks/stocks-api-client.js';
import { runStockSync } from '../../shared/stocks/stock-sync.js';
import { StockWriter } from '../../shared/stocks/stock-writer.js';
import { SyncRunStore, type SyncRunSummary } from '../../shared/stocks/sync-run-store.js';

const logger = createLogger('stock-sync');
const metrics = powertoolsMetrics('stock-sync');
const config = readStockSyncConfig();
const dynamo = stockTableClient();
const tokens = new BrokerClient({
  lambda: brokerInvokeClient(),
  functionName: config.tokenBrokerFunction,
  client: config.client,
  scopes: config.scopes,
  log: logger,
  metrics,
});

export async function handler(event: unknown, context?: Context): Promise<SyncRunSummary> {
  if (context) logger.addContext(context);
  const start = parseScheduledEvent(event);

  const summary = await runStockSync(start, {
    tokens,
    stocksApi: new StocksApiClient({
      baseUrl: config.stocksApiUrl,
      pageSize: config.pageSize,
      tokens,
      log: logger,
    }),
    writer: new StockWriter({ dynamo, tableName: config.stocksTable, log: logger }),
    runs: new SyncRunStore(dynamo, config.syncRunsTable),
    log: logger,
  });

  recordRunMetrics(summary);
  if (summary.status !== 'succeeded') {
    throw new StockSyncError(
      'run_failed',
      `stock sync run ${summary.runId} failed (${summary.errorCode}): ${summary.errorMessage}`,
    );
  }
  return summary;
}

function recordRunMetrics(summary: SyncRunSummary): void {
  metrics.count('ItemsWritten', summary.written);
  metrics.count('ItemsRejected', summary.rejected);
  if (summary.status !== 'succeeded') metrics.count('SyncRunFailed');
  if (summary.finishedAt) {
    metrics.duration(
      'SyncDuration',
      Date.parse(summary.finishedAt) - Date.parse(summary.startedAt),
    );
  }
  metrics.publish();
}
