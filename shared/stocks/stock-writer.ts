/**
 * Writes stock records with `BatchWriteItem`, 25 at a time and a few batches
 * in parallel. DynamoDB may accept part of a batch and hand the rest back as
 * `UnprocessedItems`; those are resent with exponential backoff and jitter up
 * to a bound, after which the write fails loudly with an exact count of what
 * was and was not written. Nothing unwritten is ever counted as written.
 */
import {
  BatchWriteItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { realSleep, type Sleep } from '../clock.js';
import {
  BATCH_WRITE_BASE_DELAY_MS,
  BATCH_WRITE_CONCURRENCY,
  BATCH_WRITE_MAX_ATTEMPTS,
  BATCH_WRITE_MAX_DELAY_MS,
  BATCH_WRITE_MAX_ITEMS,
} from '../constants.js';
import { StockSyncError, errorName } from '../errors.js';
import type { Log } from '../logger.js';
import { stockKey, type StockRecord } from './stock-record.js';

export interface StockWriterOptions {
  dynamo: DynamoDBClient;
  tableName: string;
  log: Log;
  /** Batches written at once; default 4. */
  concurrency?: number;
  /** Rounds per batch before giving up on unprocessed items; default 8. */
  maxAttempts?: number;
  sleep?: Sleep;
}

/** Thrown when a write gave up; `written` counts what did reach the table. */
export class WriteIncompleteError extends StockSyncError {
  override readonly name = 'WriteIncompleteError';

  constructor(
    readonly written: number,
    readonly unwritten: number,
    options: { cause?: unknown } = {},
  ) {
    super('write_incomplete', `${unwritten} stock item(s) could not be written`, options);
  }
}

export class StockWriter {
  private readonly sleep: Sleep;

  constructor(private readonly options: StockWriterOptions) {
    this.sleep = options.sleep ?? realSleep;
  }

  /**
   * Writes every record, tagged with the run that wrote it, and returns how
   * many were written. On failure, throws `WriteIncompleteError`.
   */
  async write(records: readonly StockRecord[], runId: string, syncedAt: string): Promise<number> {
    const batches = chunk(records.map((record) => putRequest(record, runId, syncedAt)));
    const concurrency = this.options.concurrency ?? BATCH_WRITE_CONCURRENCY;
    let written = 0;
    let unwritten = 0;
    let firstError: unknown;

    // A sliding window: a new batch starts as soon as one finishes, so one
    // slow batch does not hold up the others. After a failure no new batch
    // starts; those already sent finish and are counted.
    let next = 0;
    const lane = async () => {
      while (next < batches.length && unwritten === 0) {
        const batch = batches[next++] as WriteRequest[];
        const result = await this.writeBatch(batch);
        written += result.written;
        unwritten += result.unwritten;
        firstError ??= result.error;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, lane));

    if (unwritten > 0) {
      const neverSent = records.length - written - unwritten;
      throw new WriteIncompleteError(written, unwritten + neverSent, { cause: firstError });
    }
    return written;
  }

  /**
   * Sends one batch and resends what DynamoDB hands back. Never throws: a
   * send that fails ends the batch, and the counts say exactly how far it got.
   */
  private async writeBatch(batch: WriteRequest[]): Promise<BatchOutcome> {
    const maxAttempts = this.options.maxAttempts ?? BATCH_WRITE_MAX_ATTEMPTS;
    let pending = batch;

    for (let attempt = 1; attempt <= maxAttempts && pending.length > 0; attempt++) {
      if (attempt > 1) await this.sleep(backoffMs(attempt));
      try {
        const reply = await this.options.dynamo.send(
          new BatchWriteItemCommand({ RequestItems: { [this.options.tableName]: pending } }),
        );
        pending = reply.UnprocessedItems?.[this.options.tableName] ?? [];
      } catch (error) {
        this.options.log.error('stock batch write failed', {
          errorName: errorName(error),
          unwritten: pending.length,
        });
        return { written: batch.length - pending.length, unwritten: pending.length, error };
      }
      if (pending.length > 0) {
        this.options.log.debug('unprocessed stock items returned', {
          attempt,
          unprocessed: pending.length,
        });
      }
    }
    if (pending.length > 0) {
      this.options.log.error('stock items left unprocessed after retries', {
        attempts: maxAttempts,
        unprocessed: pending.length,
      });
    }
    return { written: batch.length - pending.length, unwritten: pending.length };
  }
}

interface BatchOutcome {
  written: number;
  unwritten: number;
  error?: unknown;
}

function putRequest(record: StockRecord, runId: string, syncedAt: string): WriteRequest {
  return { PutRequest: { Item: stockItem(record, runId, syncedAt) } };
}

/** A stock record as stored in the stocks table, tagged with the run that wrote it. */
export function stockItem(
  record: StockRecord,
  runId: string,
  syncedAt: string,
): Record<string, AttributeValue> {
  return {
    stockKey: { S: stockKey(record) },
    productId: { S: record.productId },
    variantId: { S: record.variantId },
    sku: { S: record.sku },
    size: { S: record.size },
    warehouseId: { S: record.warehouseId },
    quantity: { N: String(record.quantity) },
    updatedAt: { S: record.updatedAt },
    syncedAt: { S: syncedAt },
    runId: { S: runId },
  };
}

function chunk<T>(items: T[]): T[][] {
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += BATCH_WRITE_MAX_ITEMS) {
    batches.push(items.slice(i, i + BATCH_WRITE_MAX_ITEMS));
  }
  return batches;
}

/** Full jitter over an exponential ceiling (retry `attempt` ≥ 2). */
function backoffMs(attempt: number): number {
  const ceiling = Math.min(
    BATCH_WRITE_MAX_DELAY_MS,
    BATCH_WRITE_BASE_DELAY_MS * 2 ** (attempt - 2),
  );
  return Math.round(Math.random() * ceiling);
}
