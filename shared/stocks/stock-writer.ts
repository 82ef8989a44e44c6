/**
 * Writes stock records with `BatchWriteItem`, 25 at a time and a few batches
 * in parallel. DynamoDB may accept part of a batch and hand the rest back as
 * `UnprocessedItems`; those are resent with exponential backoff and jitter up
 * to a bound, after which the write fails loudly with an exact count of what
 * was and was not written. Nothing unwritten is ever counted as written.
 *
 * A run writes through one window (`begin`) for all its pages: the batches
 * in flight are bounded across pages, not per page, so the last batches of
 * one page overlap the first of the next instead of the window draining
 * and refilling at every page boundary.
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
  /** Batches in flight at once, across pages; default `BATCH_WRITE_CONCURRENCY` (8). */
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

  /** Opens the window one run writes all its records through, tagged with `runId`. */
  begin(runId: string): StockWriteWindow {
    return new StockWriteWindow(
      runId,
      this.options.concurrency ?? BATCH_WRITE_CONCURRENCY,
      (batch) => this.writeBatch(batch),
    );
  }

  /**
   * Writes every record, tagged with the run that wrote it, and returns how
   * many were written. On failure, throws `WriteIncompleteError`.
   */
  async write(records: readonly StockRecord[], runId: string, syncedAt: string): Promise<number> {
    const window = this.begin(runId);
    await window.add(records, syncedAt);
    return window.finish();
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

/**
 * The writes of one run: at most `concurrency` batches in flight, whichever
 * page they come from. After a batch has failed no new batch starts; those
 * already sent finish and are counted, and every record not yet sent is
 * counted as unwritten.
 */
export class StockWriteWindow {
  private recordsAdded = 0;
  private recordsWritten = 0;
  private failedBatches = 0;
  private firstError: unknown;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly slotWaiters: (() => void)[] = [];

  constructor(
    private readonly runId: string,
    private readonly concurrency: number,
    private readonly sendBatch: (batch: WriteRequest[]) => Promise<BatchOutcome>,
  ) {}

  /** Records DynamoDB has accepted so far. */
  get written(): number {
    return this.recordsWritten;
  }

  /** True once a batch has given up; nothing new starts after that. */
  get failed(): boolean {
    return this.failedBatches > 0;
  }

  /**
   * Starts writing `records` and resolves once each of their batches is in
   * flight, waiting for a free slot before each one; resolves early once a
   * batch has failed.
   */
  async add(records: readonly StockRecord[], syncedAt: string): Promise<void> {
    this.recordsAdded += records.length;
    for (let first = 0; first < records.length; first += BATCH_WRITE_MAX_ITEMS) {
      while (this.inFlight.size >= this.concurrency && !this.failed) await this.slotFreed();
      if (this.failed) return;
      const batch: WriteRequest[] = [];
      const end = Math.min(first + BATCH_WRITE_MAX_ITEMS, records.length);
      for (let i = first; i < end; i++) batch.push(putRequest(records[i]!, this.runId, syncedAt));
      this.start(batch);
    }
  }

  /** Resolves once no batch is in flight. Never throws. */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  /**
   * Waits for every batch in flight and returns how many records were
   * written; throws `WriteIncompleteError` if any record added was not.
   */
  async finish(): Promise<number> {
    await this.settle();
    const unwritten = this.recordsAdded - this.recordsWritten;
    if (unwritten > 0) {
      throw new WriteIncompleteError(this.recordsWritten, unwritten, { cause: this.firstError });
    }
    return this.recordsWritten;
  }

  private start(batch: WriteRequest[]): void {
    // `sendBatch` reports failures as data; should it ever throw, the batch
    // still counts as unwritten and its slot is still given back.
    const sending = this.sendBatch(batch)
      .catch((error: unknown): BatchOutcome => ({ written: 0, unwritten: batch.length, error }))
      .then((outcome) => {
        this.recordsWritten += outcome.written;
        if (outcome.unwritten > 0) this.failedBatches++;
        this.firstError ??= outcome.error;
        this.inFlight.delete(sending);
        for (const wake of this.slotWaiters.splice(0)) wake();
      });
    this.inFlight.add(sending);
  }

  private slotFreed(): Promise<void> {
    return new Promise((resolve) => this.slotWaiters.push(resolve));
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

/** Full jitter over an exponential ceiling (retry `attempt` ≥ 2). */
function backoffMs(attempt: number): number {
  const ceiling = Math.min(
    BATCH_WRITE_MAX_DELAY_MS,
    BATCH_WRITE_BASE_DELAY_MS * 2 ** (attempt - 2),
  );
  return Math.round(Math.random() * ceiling);
}
