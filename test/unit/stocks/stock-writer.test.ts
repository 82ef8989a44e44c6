import type { DynamoDBClient, WriteRequest } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StockSyncError } from '../../../shared/errors.js';
import type { StockRecord } from '../../../shared/stocks/stock-record.js';
import { StockWriter, WriteIncompleteError } from '../../../shared/stocks/stock-writer.js';
import { FakeAwsClient, serviceError } from '../../helpers/fake-aws.js';
import { LogRecorder } from '../../helpers/log-recorder.js';

const TABLE = 'stocks-test';
const RUN_ID = 'run-0001';
const SYNCED_AT = '2026-03-01T02:00:00.000Z';

function records(count: number): StockRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    productId: `P-${i}`,
    variantId: `V-${i}`,
    sku: `SKU-${i}`,
    size: 'M',
    warehouseId: 'WH-1',
    quantity: i,
    updatedAt: '2026-02-28T23:00:00Z',
  }));
}

type BatchInput = { RequestItems: Record<string, WriteRequest[]> };

function sentKeys(input: BatchInput): string[] {
  return (input.RequestItems[TABLE] ?? []).map(
    (request) => request.PutRequest?.Item?.stockKey?.S ?? '?',
  );
}

/** A reply that hands the last `count` requests of the batch back unprocessed. */
function leaveLast(count: number) {
  return (input: BatchInput) => {
    const sent = input.RequestItems[TABLE] ?? [];
    return count === 0 ? {} : { UnprocessedItems: { [TABLE]: sent.slice(-count) } };
  };
}

/** A BatchWriteItem handler that answers on the next turn and records the most calls in flight. */
function inFlightCounter() {
  let now = 0;
  const counter = {
    most: 0,
    handler: async () => {
      now++;
      counter.most = Math.max(counter.most, now);
      await new Promise((resolve) => setImmediate(resolve));
      now--;
      return {};
    },
  };
  return counter;
}

function setup(
  handler: (input: BatchInput) => unknown,
  options: { maxAttempts?: number; concurrency?: number } = {},
) {
  const dynamo = new FakeAwsClient({ BatchWriteItemCommand: handler });
  const log = new LogRecorder();
  const waits: number[] = [];
  const writer = new StockWriter({
    dynamo: dynamo.as<DynamoDBClient>(),
    tableName: TABLE,
    log,
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...options,
  });
  return { writer, dynamo, log, waits };
}

function batchInputs(dynamo: FakeAwsClient): BatchInput[] {
  return dynamo.calls.map((call) => call.input as BatchInput);
}

async function writeError(promise: Promise<number>): Promise<WriteIncompleteError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(WriteIncompleteError);
  return error as WriteIncompleteError;
}

describe('StockWriter', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  describe('write', () => {
    it('writes 60 records as three batches of at most 25', async () => {
      // Prepare
      const { writer, dynamo, waits } = setup(leaveLast(0));

      // Act
      const written = await writer.write(records(60), RUN_ID, SYNCED_AT);

      // Assess
      expect(written).toBe(60);
      expect(dynamo.count('BatchWriteItemCommand')).toBe(3);
      const inputs = batchInputs(dynamo);
      expect(inputs.map((input) => Object.keys(input.RequestItems))).toEqual([
        [TABLE],
        [TABLE],
        [TABLE],
      ]);
      expect(inputs.map((input) => input.RequestItems[TABLE]?.length)).toEqual([25, 25, 10]);
      const keys = inputs.flatMap(sentKeys);
      expect(keys).toEqual(records(60).map((record) => `${record.variantId}#WH-1`));
      expect(waits).toEqual([]);
    });

    it('shapes each item with its stock key, typed attributes, run id and sync time', async () => {
      // Prepare
      const { writer, dynamo } = setup(leaveLast(0));
      const [record] = records(8).slice(7);

      // Act
      await writer.write([record!], RUN_ID, SYNCED_AT);

      // Assess
      expect(batchInputs(dynamo)[0]?.RequestItems[TABLE]).toEqual([
        {
          PutRequest: {
            Item: {
              stockKey: { S: 'V-7#WH-1' },
              productId: { S: 'P-7' },
              variantId: { S: 'V-7' },
              sku: { S: 'SKU-7' },
              size: { S: 'M' },
              warehouseId: { S: 'WH-1' },
              quantity: { N: '7' },
              updatedAt: { S: '2026-02-28T23:00:00Z' },
              syncedAt: { S: SYNCED_AT },
              runId: { S: RUN_ID },
            },
          },
        },
      ]);
    });

    it('sends nothing for no records', async () => {
      // Prepare
      const { writer, dynamo } = setup(leaveLast(0));

      // Act
      const written = await writer.write([], RUN_ID, SYNCED_AT);

      // Assess
      expect(written).toBe(0);
      expect(dynamo.calls).toEqual([]);
    });

    it('writes no more batches at once than its concurrency', async () => {
      // Prepare
      const inFlight = inFlightCounter();
      const { writer, dynamo } = setup(inFlight.handler, { concurrency: 2 });

      // Act
      const written = await writer.write(records(120), RUN_ID, SYNCED_AT);

      // Assess
      expect(written).toBe(120);
      expect(dynamo.count('BatchWriteItemCommand')).toBe(5);
      expect(inFlight.most).toBe(2);
    });

    it('resends unprocessed items until they are processed', async () => {
      // Prepare
      const replies = [leaveLast(5), leaveLast(2), leaveLast(0)];
      const { writer, dynamo, waits, log } = setup((input) => replies.shift()!(input));

      // Act
      const written = await writer.write(records(25), RUN_ID, SYNCED_AT);

      // Assess
      expect(written).toBe(25);
      expect(dynamo.count('BatchWriteItemCommand')).toBe(3);
      const inputs = batchInputs(dynamo);
      expect(sentKeys(inputs[1]!)).toEqual(sentKeys(inputs[0]!).slice(-5));
      expect(sentKeys(inputs[2]!)).toEqual(sentKeys(inputs[0]!).slice(-2));
      expect(waits).toHaveLength(2);
      expect(log.messages('debug')).toEqual([
        'unprocessed stock items returned',
        'unprocessed stock items returned',
      ]);
      expect(log.messages('error')).toEqual([]);
    });

    it('backs off with full jitter under a doubling ceiling of at most 2 seconds', async () => {
      // Prepare
      vi.spyOn(Math, 'random').mockReturnValue(1);
      const { writer, waits } = setup(leaveLast(1));

      // Act
      await writeError(writer.write(records(3), RUN_ID, SYNCED_AT));

      // Assess
      expect(waits).toEqual([50, 100, 200, 400, 800, 1_600, 2_000]);
    });

    it('gives up after eight rounds by default with an exact count', async () => {
      // Prepare
      const { writer, dynamo, log } = setup(leaveLast(4));

      // Act
      const error = await writeError(writer.write(records(10), RUN_ID, SYNCED_AT));

      // Assess
      expect(dynamo.count('BatchWriteItemCommand')).toBe(8);
      expect(error.written).toBe(6);
      expect(error.unwritten).toBe(4);
      expect(log.messages('error')).toEqual(['stock items left unprocessed after retries']);
      expect(log.entries.at(-1)?.fields).toEqual([{ attempts: 8, unprocessed: 4 }]);
    });

    it('throws WriteIncompleteError with exact counts when items stay unprocessed', async () => {
      // Prepare
      const stuck = new Set(['V-47#WH-1', 'V-48#WH-1', 'V-49#WH-1']);
      const { writer, dynamo, waits } = setup(
        (input) => {
          const sent = input.RequestItems[TABLE] ?? [];
          const left = sent.filter((r) => stuck.has(r.PutRequest?.Item?.stockKey?.S ?? ''));
          return left.length === 0 ? {} : { UnprocessedItems: { [TABLE]: left } };
        },
        { maxAttempts: 3 },
      );

      // Act
      const error = await writeError(writer.write(records(60), RUN_ID, SYNCED_AT));

      // Assess
      expect(error).toBeInstanceOf(StockSyncError);
      expect(error.name).toBe('WriteIncompleteError');
      expect(error.code).toBe('write_incomplete');
      expect(error.message).toBe('3 stock item(s) could not be written');
      expect(error.written).toBe(57);
      expect(error.unwritten).toBe(3);
      expect(error.written + error.unwritten).toBe(60);
      expect(error.cause).toBeUndefined();
      expect(dynamo.count('BatchWriteItemCommand')).toBe(2 + 3);
      expect(waits).toHaveLength(2);
    });

    it('counts batches never sent after a failed round as unwritten', async () => {
      // Prepare
      const { writer, dynamo } = setup(leaveLast(2), { maxAttempts: 2, concurrency: 1 });

      // Act
      const error = await writeError(writer.write(records(60), RUN_ID, SYNCED_AT));

      // Assess
      expect(dynamo.count('BatchWriteItemCommand')).toBe(2);
      expect(sentKeys(batchInputs(dynamo)[1]!)).toEqual(['V-23#WH-1', 'V-24#WH-1']);
      expect(error.written).toBe(23);
      expect(error.unwritten).toBe(37);
    });

    it('keeps the cause when a batch cannot be sent at all', async () => {
      // Prepare
      const throttled = serviceError('ProvisionedThroughputExceededException');
      const { writer, dynamo } = setup((input) => {
        if (sentKeys(input).includes('V-50#WH-1')) throw throttled;
        return {};
      });

      // Act
      const error = await writeError(writer.write(records(60), RUN_ID, SYNCED_AT));

      // Assess
      expect(error.cause).toBe(throttled);
      expect(error.written).toBe(50);
      expect(error.unwritten).toBe(10);
      expect(dynamo.count('BatchWriteItemCommand')).toBe(3);
    });

    // A batch whose first round was partly processed and whose resend then
    // throws is counted as wholly unwritten, though most of it is in the table.
    it('counts what a batch wrote before its resend threw as written', async () => {
      // Prepare
      const failure = serviceError('InternalServerError', 'server');
      const replies = [
        leaveLast(5),
        () => {
          throw failure;
        },
      ];
      const { writer, dynamo } = setup((input) => replies.shift()!(input));

      // Act
      const error = await writeError(writer.write(records(25), RUN_ID, SYNCED_AT));

      // Assess
      expect(dynamo.count('BatchWriteItemCommand')).toBe(2);
      expect(error.cause).toBe(failure);
      expect(error.written).toBe(20);
      expect(error.unwritten).toBe(5);
    });
  });

  describe('begin', () => {
    /** Each batch waits until the test lets it finish; `sent` lists every batch's keys. */
    function heldBatches() {
      const sent: string[][] = [];
      const held: (() => void)[] = [];
      const handler = (input: BatchInput) => {
        sent.push(sentKeys(input));
        return new Promise<object>((resolve) => held.push(() => resolve({})));
      };
      const releaseOldest = async () => {
        held.shift()?.();
        await new Promise((resolve) => setImmediate(resolve));
      };
      return { sent, handler, held, releaseOldest };
    }

    it("starts a page's first batch while the page before it still has batches in flight", async () => {
      // Prepare
      const { sent, handler, held, releaseOldest } = heldBatches();
      const { writer } = setup(handler, { concurrency: 3 });
      const [first, second] = [records(60).slice(0, 30), records(60).slice(30)];
      const window = writer.begin(RUN_ID);

      // Act
      await window.add(first, SYNCED_AT);
      const adding = window.add(second, SYNCED_AT);
      await new Promise((resolve) => setImmediate(resolve));
      const inFlightBeforeRelease = held.length;
      await releaseOldest();
      await adding;
      while (held.length > 0) await releaseOldest();
      const written = await window.finish();

      // Assess
      expect(inFlightBeforeRelease).toBe(3);
      expect(sent.map((keys) => keys.length)).toEqual([25, 5, 25, 5]);
      expect(sent[2]?.[0]).toBe('V-30#WH-1');
      expect(written).toBe(60);
      expect(window.written).toBe(60);
      expect(window.failed).toBe(false);
    });

    it('never has more batches in flight than its concurrency, across pages', async () => {
      // Prepare
      const inFlight = inFlightCounter();
      const { writer, dynamo } = setup(inFlight.handler, { concurrency: 2 });
      const window = writer.begin(RUN_ID);

      // Act
      for (let page = 0; page < 4; page++) {
        await window.add(records(30), SYNCED_AT);
      }
      const written = await window.finish();

      // Assess
      expect(written).toBe(120);
      expect(dynamo.count('BatchWriteItemCommand')).toBe(8);
      expect(inFlight.most).toBe(2);
    });

    it('starts nothing after a batch failed and counts every record not sent as unwritten', async () => {
      // Prepare
      const { writer, dynamo } = setup(leaveLast(2), { maxAttempts: 1, concurrency: 1 });
      const window = writer.begin(RUN_ID);

      // Act
      await window.add(records(30), SYNCED_AT);
      const sentForFirstPage = dynamo.count('BatchWriteItemCommand');
      await window.add(records(30), SYNCED_AT);
      const error = await writeError(window.finish());

      // Assess
      expect(sentForFirstPage).toBe(1);
      expect(window.failed).toBe(true);
      expect(dynamo.count('BatchWriteItemCommand')).toBe(1);
      expect(error.written).toBe(23);
      expect(error.unwritten).toBe(60 - 23);
      expect(window.written).toBe(23);
    });

    it('settles every batch in flight without throwing, even a failed one', async () => {
      // Prepare
      const throttled = serviceError('ProvisionedThroughputExceededException');
      const { writer } = setup(() => {
        throw throttled;
      });
      const window = writer.begin(RUN_ID);

      // Act
      await window.add(records(10), SYNCED_AT);
      await window.settle();

      // Assess
      expect(window.failed).toBe(true);
      expect(window.written).toBe(0);
      expect((await writeError(window.finish())).cause).toBe(throttled);
    });
  });
});
