/**
 * A stock record as the stocks API serves it: how many units of one product
 * variant (size) one warehouse holds. Entries are validated one by one; an
 * invalid entry is reported with its key and reason and never stops the rest.
 */
import { isoDateTimeProblem } from '../iso-date.js';

export interface StockRecord {
  productId: string;
  variantId: string;
  sku: string;
  size: string;
  warehouseId: string;
  quantity: number;
  /** ISO 8601 date-time of the record's last change at the source. */
  updatedAt: string;
}

export type EntryCheck =
  { ok: true; record: StockRecord; key: string } | { ok: false; key: string; reason: string };

const MAX_ID_CHARS = 128;
const MAX_QUANTITY = 1_000_000_000;

/** The stocks table key: one item per variant and warehouse. */
export function stockKey(record: Pick<StockRecord, 'variantId' | 'warehouseId'>): string {
  return `${record.variantId}#${record.warehouseId}`;
}

/** Validates one entry; `position` identifies it when its own key is unusable. */
export function checkStockEntry(entry: unknown, position: string): EntryCheck {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return { ok: false, key: position, reason: 'entry is not an object' };
  }
  const raw = entry as Record<string, unknown>;
  const productId = identifier(raw.productId);
  const variantId = identifier(raw.variantId);
  const warehouseId = identifier(raw.warehouseId);
  const key =
    variantId !== undefined && warehouseId !== undefined
      ? stockKey({ variantId, warehouseId })
      : position;

  const reason = firstProblem(raw, productId, variantId, warehouseId);
  if (reason) return { ok: false, key, reason };
  return {
    ok: true,
    key,
    record: {
      productId: productId as string,
      variantId: variantId as string,
      sku: raw.sku as string,
      size: raw.size as string,
      warehouseId: warehouseId as string,
      quantity: raw.quantity as number,
      updatedAt: raw.updatedAt as string,
    },
  };
}

function firstProblem(
  raw: Record<string, unknown>,
  productId: string | undefined,
  variantId: string | undefined,
  warehouseId: string | undefined,
): string | undefined {
  if (productId === undefined) return 'productId must be a non-empty id';
  if (variantId === undefined) return 'variantId must be a non-empty id';
  if (warehouseId === undefined) return 'warehouseId must be a non-empty id';
  if (!boundedString(raw.sku)) return 'sku must be a non-empty string';
  if (!boundedString(raw.size)) return 'size must be a non-empty string';
  if (!Number.isInteger(raw.quantity)) return 'quantity must be a whole number';
  if ((raw.quantity as number) < 0) return 'quantity must not be negative';
  if ((raw.quantity as number) > MAX_QUANTITY) return 'quantity is implausibly large';
  const dateProblem = isoDateTimeProblem(raw.updatedAt);
  if (dateProblem === 'shape') return 'updatedAt must be an ISO 8601 date-time';
  if (dateProblem === 'calendar') return 'updatedAt is not a real date';
  return undefined;
}

/** Ids arrive as strings or as positive whole numbers; both become strings. */
function identifier(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  if (typeof value !== 'string' || !boundedString(value)) return undefined;
  return /[#\u0000-\u001f]/.test(value) ? undefined : value;
}

function boundedString(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '' && value.length <= MAX_ID_CHARS;
}
