import { describe, expect, it } from 'vitest';

import {
  INVALID_KINDS,
  invalidRecordAt,
  stockRecordAt,
  WAREHOUSE_IDS,
} from '../../local/stock-catalogue.js';

describe('stockRecordAt', () => {
  it('returns the same record for the same index on every run', () => {
    // Pinned so that a change to the derivation is a deliberate one.
    expect(stockRecordAt(1234)).toEqual(stockRecordAt(1234));
    expect(stockRecordAt(0)).toMatchInlineSnapshot(`
      {
        "productId": "18000000",
        "quantity": 33,
        "size": "XS",
        "sku": "18000000-XS",
        "updatedAt": "2024-10-12T12:12:39.000Z",
        "variantId": "2c77ec7e-f4f8-4da9-84bc-b70c64f69aba",
        "warehouseId": "PT-GMR-01",
      }
    `);
  });

  it('never repeats a (variantId, warehouseId) pair', () => {
    const seen = new Set<string>();
    for (let index = 0; index < 20_000; index += 1) {
      const { variantId, warehouseId } = stockRecordAt(index);
      seen.add(`${variantId}|${warehouseId}`);
    }
    expect(seen.size).toBe(20_000);
  });

  it('gives well-formed values: integer quantities, ISO dates, known warehouses', () => {
    for (let index = 0; index < 500; index += 1) {
      const record = stockRecordAt(index);
      expect(Number.isInteger(record.quantity)).toBe(true);
      expect(record.quantity).toBeGreaterThanOrEqual(0);
      expect(new Date(record.updatedAt).toISOString()).toBe(record.updatedAt);
      expect(WAREHOUSE_IDS).toContain(record.warehouseId);
      expect(record.variantId).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      expect(record.sku).toBe(`${record.productId}-${record.size}`);
    }
  });

  it('refuses a negative or fractional index', () => {
    expect(() => stockRecordAt(-1)).toThrow(RangeError);
    expect(() => stockRecordAt(1.5)).toThrow(RangeError);
  });
});

describe('invalidRecordAt', () => {
  it('leaves out one field for missing-field', () => {
    const record = invalidRecordAt(3, 'missing-field');
    expect(Object.keys(record)).toHaveLength(6);
  });

  it('breaks the quantity or the date as the kind says', () => {
    expect(invalidRecordAt(5, 'negative-quantity').quantity).toBeLessThan(0);
    expect(Number.isInteger(invalidRecordAt(5, 'non-integer-quantity').quantity)).toBe(false);
    expect(typeof invalidRecordAt(5, 'wrong-type').quantity).toBe('string');
    expect(Number.isNaN(Date.parse(String(invalidRecordAt(5, 'bad-date').updatedAt)))).toBe(true);
  });

  it('keeps the identifying fields of the valid record for every kind but missing-field', () => {
    const valid = stockRecordAt(9);
    for (const kind of INVALID_KINDS.filter((k) => k !== 'missing-field')) {
      const broken = invalidRecordAt(9, kind);
      expect(broken.variantId).toBe(valid.variantId);
      expect(broken.warehouseId).toBe(valid.warehouseId);
    }
  });
});
