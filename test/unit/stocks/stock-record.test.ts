import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkStockEntry, stockKey } from '../../../shared/stocks/stock-record.js';

const POSITION = 'page 2 entry 7';

function entry(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    productId: 'P-100',
    variantId: 'V-100-42',
    sku: 'SKU-100-42',
    size: '42',
    warehouseId: 'WH-LIS',
    quantity: 17,
    updatedAt: '2026-03-01T02:15:00Z',
    ...overrides,
  };
}

function without(field: string): Record<string, unknown> {
  const copy = entry();
  delete copy[field];
  return copy;
}

describe('stockKey', () => {
  it('joins the variant and warehouse ids with a #', () => {
    // Act
    const key = stockKey({ variantId: 'V-1', warehouseId: 'WH-2' });

    // Assess
    expect(key).toBe('V-1#WH-2');
  });
});

describe('checkStockEntry', () => {
  it('accepts a valid entry and keys it by variant and warehouse', () => {
    // Act
    const check = checkStockEntry(entry(), POSITION);

    // Assess
    expect(check).toEqual({
      ok: true,
      key: 'V-100-42#WH-LIS',
      record: {
        productId: 'P-100',
        variantId: 'V-100-42',
        sku: 'SKU-100-42',
        size: '42',
        warehouseId: 'WH-LIS',
        quantity: 17,
        updatedAt: '2026-03-01T02:15:00Z',
      },
    });
  });

  it('accepts numeric ids and turns them into strings', () => {
    // Prepare
    const numeric = entry({ productId: 100, variantId: 10042, warehouseId: 7 });

    // Act
    const check = checkStockEntry(numeric, POSITION);

    // Assess
    expect(check.ok).toBe(true);
    expect(check.key).toBe('10042#7');
    expect(check.ok && check.record).toMatchObject({
      productId: '100',
      variantId: '10042',
      warehouseId: '7',
    });
  });

  it.each([0, 1_000_000_000])('accepts the boundary quantity %d', (quantity) => {
    // Act
    const check = checkStockEntry(entry({ quantity }), POSITION);

    // Assess
    expect(check.ok && check.record.quantity).toBe(quantity);
  });

  it.each([
    '2026-03-01T02:15Z',
    '2026-03-01T02:15:00.123Z',
    '2026-03-01T02:15:00.123456789Z',
    '2026-03-01T02:15:00+01:00',
    '2026-03-01T02:15:00-0530',
  ])('accepts the ISO 8601 date-time %s', (updatedAt) => {
    // Act
    const check = checkStockEntry(entry({ updatedAt }), POSITION);

    // Assess
    expect(check.ok).toBe(true);
  });

  it.each([null, undefined, 42, 'entry', true, [], [entry()]])(
    'rejects the non-object entry %j by its position',
    (value) => {
      // Act
      const check = checkStockEntry(value, POSITION);

      // Assess
      expect(check).toEqual({ ok: false, key: POSITION, reason: 'entry is not an object' });
    },
  );

  describe.each(['productId', 'variantId', 'warehouseId'])('the id %s', (field) => {
    const keyWhenUsable = field === 'productId' ? 'V-100-42#WH-LIS' : POSITION;
    const reason = `${field} must be a non-empty id`;

    it('is required', () => {
      // Act
      const check = checkStockEntry(without(field), POSITION);

      // Assess
      expect(check).toEqual({ ok: false, key: keyWhenUsable, reason });
    });

    it.each([
      ['empty', ''],
      ['blank', '   '],
      ['null', null],
      ['a boolean', true],
      ['an object', { id: 1 }],
      ['negative', -1],
      ['fractional', 1.5],
      ['beyond a safe integer', 2 ** 53],
      ['longer than 128 characters', 'x'.repeat(129)],
      ['holding a #', 'A#B'],
      ['holding a control character', 'A\nB'],
    ])('is rejected when %s', (_label, value) => {
      // Act
      const check = checkStockEntry(entry({ [field]: value }), POSITION);

      // Assess
      expect(check).toEqual({ ok: false, key: keyWhenUsable, reason });
    });
  });

  it('keys an entry by its position when its own key cannot be built', () => {
    // Act
    const check = checkStockEntry(entry({ variantId: 'V#1', warehouseId: 'WH-1' }), POSITION);

    // Assess
    expect(check.key).toBe(POSITION);
  });

  describe.each(['sku', 'size'])('the string %s', (field) => {
    const reason = `${field} must be a non-empty string`;

    it('is required', () => {
      // Act
      const check = checkStockEntry(without(field), POSITION);

      // Assess
      expect(check).toEqual({ ok: false, key: 'V-100-42#WH-LIS', reason });
    });

    it.each([
      ['empty', ''],
      ['blank', ' \t'],
      ['a number', 42],
      ['null', null],
      ['longer than 128 characters', 's'.repeat(129)],
    ])('is rejected when %s', (_label, value) => {
      // Act
      const check = checkStockEntry(entry({ [field]: value }), POSITION);

      // Assess
      expect(check).toEqual({ ok: false, key: 'V-100-42#WH-LIS', reason });
    });
  });

  it.each([
    ['missing', undefined, 'quantity must be a whole number'],
    ['a digit string', '17', 'quantity must be a whole number'],
    ['null', null, 'quantity must be a whole number'],
    ['fractional', 1.5, 'quantity must be a whole number'],
    ['not a number', Number.NaN, 'quantity must be a whole number'],
    ['infinite', Number.POSITIVE_INFINITY, 'quantity must be a whole number'],
    ['negative', -1, 'quantity must not be negative'],
    ['implausibly large', 1_000_000_001, 'quantity is implausibly large'],
    ['huge', 1e300, 'quantity is implausibly large'],
  ])('rejects a quantity that is %s, naming quantity', (_label, quantity, reason) => {
    // Prepare
    const value = quantity === undefined ? without('quantity') : entry({ quantity });

    // Act
    const check = checkStockEntry(value, POSITION);

    // Assess
    expect(check).toEqual({ ok: false, key: 'V-100-42#WH-LIS', reason });
  });

  it.each([
    ['missing', undefined],
    ['a number', 1_772_331_300_000],
    ['a date without a time', '2026-03-01'],
    ['without a zone', '2026-03-01T02:15:00'],
    ['in another format', 'Sun, 01 Mar 2026 02:15:00 GMT'],
    ['empty', ''],
  ])('rejects an updatedAt that is %s as not ISO 8601', (_label, updatedAt) => {
    // Prepare
    const value = updatedAt === undefined ? without('updatedAt') : entry({ updatedAt });

    // Act
    const check = checkStockEntry(value, POSITION);

    // Assess
    expect(check).toEqual({
      ok: false,
      key: 'V-100-42#WH-LIS',
      reason: 'updatedAt must be an ISO 8601 date-time',
    });
  });

  it.each(['2026-13-01T00:00:00Z', '2026-03-01T25:00:00Z', '2026-03-01T02:60:00Z'])(
    'rejects the ISO-shaped but unreal updatedAt %s',
    (updatedAt) => {
      // Act
      const check = checkStockEntry(entry({ updatedAt }), POSITION);

      // Assess
      expect(check).toEqual({
        ok: false,
        key: 'V-100-42#WH-LIS',
        reason: 'updatedAt is not a real date',
      });
    },
  );

  // Date.parse rolls an impossible day of the month over into the next month
  // instead of refusing it, so these reach the table as a different date.
  it.each(['2026-02-30T00:00:00Z', '2025-02-29T00:00:00Z', '2026-04-31T00:00:00Z'])(
    'rejects the impossible calendar day in updatedAt %s',
    (updatedAt) => {
      // Act
      const check = checkStockEntry(entry({ updatedAt }), POSITION);

      // Assess
      expect(check).toEqual({
        ok: false,
        key: 'V-100-42#WH-LIS',
        reason: 'updatedAt is not a real date',
      });
    },
  );

  it('reports the first problem in field order', () => {
    // Act
    const check = checkStockEntry(entry({ sku: '', quantity: -5 }), POSITION);

    // Assess
    expect(check.ok === false && check.reason).toBe('sku must be a non-empty string');
  });

  it('never throws on arbitrary JSON and returns a typed record or a reason', () => {
    const field = fc.oneof(fc.jsonValue(), fc.string(), fc.integer(), fc.constant(undefined));
    const entryLike = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          productId: field,
          variantId: field,
          sku: field,
          size: field,
          warehouseId: field,
          quantity: fc.oneof(field, fc.integer({ min: -10, max: 2_000_000_000 })),
          updatedAt: fc.oneof(
            field,
            fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          ),
        },
        { requiredKeys: [] },
      ),
    );

    fc.assert(
      fc.property(entryLike, (value) => {
        const check = checkStockEntry(value, POSITION);

        expect(typeof check.key).toBe('string');
        expect(check.key).not.toBe('');
        if (!check.ok) {
          expect(check.reason).toMatch(/\S/);
          return;
        }
        const { record } = check;
        for (const id of [record.productId, record.variantId, record.warehouseId]) {
          expect(typeof id).toBe('string');
          expect(id).not.toMatch(/[#\u0000-\u001f]/);
        }
        expect(typeof record.sku).toBe('string');
        expect(typeof record.size).toBe('string');
        expect(Number.isInteger(record.quantity)).toBe(true);
        expect(record.quantity).toBeGreaterThanOrEqual(0);
        expect(Number.isNaN(Date.parse(record.updatedAt))).toBe(false);
        expect(check.key).toBe(stockKey(record));
      }),
      { numRuns: 500 },
    );
  });
});
