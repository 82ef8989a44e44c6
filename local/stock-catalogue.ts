/**
 * A deterministic stock catalogue for the local stocks API: record `i` is
 * always the same, on every machine and every run, so a test can compute
 * what a sync should have stored without keeping a fixture file. Nothing
 * here is random; every value is derived from the index by a fixed hash.
 *
 * Indexes map one-to-one onto (variant, warehouse) pairs: consecutive
 * indexes walk the warehouses of a variant, then the sizes of a product,
 * so `(variantId, warehouseId)` is unique across the whole catalogue.
 */
import { createHash } from 'node:crypto';
import type { StockRecord } from '../shared/stocks/stock-record.js';

/** One stock level, as the stocks API serves it: the product's own record type. */
export type { StockRecord };

/** Ways `invalidRecordAt` can break a record. */
export type InvalidKind =
  'missing-field' | 'negative-quantity' | 'non-integer-quantity' | 'bad-date' | 'wrong-type';

export const INVALID_KINDS: readonly InvalidKind[] = [
  'missing-field',
  'negative-quantity',
  'non-integer-quantity',
  'bad-date',
  'wrong-type',
];

/** Warehouses stock is held in; consecutive indexes cycle through them. */
export const WAREHOUSE_IDS = ['PT-GMR-01', 'GB-LON-02', 'US-NJ-03'] as const;

const SIZE_RUNS = [
  ['XS', 'S', 'M', 'L', 'XL'],
  ['38', '39', '40', '41', '42'],
  ['26', '28', '30', '32', '34'],
] as const;

const SIZES_PER_PRODUCT = 5;
const FIRST_PRODUCT_ID = 18_000_000;
const MAX_QUANTITY = 40;
/** Every `updatedAt` falls within the year after this instant. */
const UPDATED_AT_EPOCH_MS = Date.UTC(2024, 0, 1);
const YEAR_SECS = 365 * 24 * 60 * 60;

const RECORD_FIELDS: readonly (keyof StockRecord)[] = [
  'productId',
  'variantId',
  'sku',
  'size',
  'warehouseId',
  'quantity',
  'updatedAt',
];

/**
 * The valid record at `index` (a non-negative safe integer).
 * Throws `RangeError` for any other index.
 */
export function stockRecordAt(index: number): StockRecord {
  assertIndex(index);

  const warehouseId = WAREHOUSE_IDS[index % WAREHOUSE_IDS.length]!;
  const variantNumber = Math.floor(index / WAREHOUSE_IDS.length);
  const productNumber = Math.floor(variantNumber / SIZES_PER_PRODUCT);
  const sizeRun = SIZE_RUNS[productNumber % SIZE_RUNS.length]!;
  const size = sizeRun[variantNumber % SIZES_PER_PRODUCT]!;
  const productId = String(FIRST_PRODUCT_ID + productNumber);

  return {
    productId,
    variantId: uuidFrom(`variant:${variantNumber}`),
    sku: `${productId}-${size}`,
    size,
    warehouseId,
    quantity: hashToInt(`quantity:${index}`) % (MAX_QUANTITY + 1),
    updatedAt: updatedAtFor(index),
  };
}

/**
 * The record at `index`, broken in the way `kind` names; everything else
 * stays as `stockRecordAt(index)` has it.
 *
 * - `missing-field`: one field is left out; which one cycles with the index.
 * - `negative-quantity`: `quantity` is below zero.
 * - `non-integer-quantity`: `quantity` has a fractional part.
 * - `bad-date`: `updatedAt` is not an ISO 8601 instant.
 * - `wrong-type`: `quantity` is a string holding the number.
 */
export function invalidRecordAt(index: number, kind: InvalidKind): Record<string, unknown> {
  const record: Record<string, unknown> = { ...stockRecordAt(index) };
  const quantity = record.quantity as number;

  switch (kind) {
    case 'missing-field':
      delete record[RECORD_FIELDS[index % RECORD_FIELDS.length]!];
      break;
    case 'negative-quantity':
      record.quantity = -(quantity + 1);
      break;
    case 'non-integer-quantity':
      record.quantity = quantity + 0.5;
      break;
    case 'bad-date':
      record.updatedAt = 'yesterday at noon';
      break;
    case 'wrong-type':
      record.quantity = String(quantity);
      break;
    default:
      throw new RangeError(`unknown invalid record kind: ${String(kind)}`);
  }

  return record;
}

function assertIndex(index: number): void {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RangeError(`catalogue index must be a non-negative integer, got ${index}`);
  }
}

function updatedAtFor(index: number): string {
  const offsetSecs = hashToInt(`updatedAt:${index}`) % YEAR_SECS;
  return new Date(UPDATED_AT_EPOCH_MS + offsetSecs * 1000).toISOString();
}

function digest(seed: string): Buffer {
  return createHash('sha256').update(seed).digest();
}

/** A stable non-negative 32-bit integer for `seed`. */
function hashToInt(seed: string): number {
  return digest(seed).readUInt32BE(0);
}

/** A stable RFC 4122 version 4 shaped UUID for `seed`. */
function uuidFrom(seed: string): string {
  const bytes = digest(seed).subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    hex.slice(12, 16),
    hex.slice(16, 20),
    hex.slice(20),
  ].join('-');
}
