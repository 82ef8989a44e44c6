import { describe, expect, it } from 'vitest';
import { StockSyncError } from '../../../shared/errors.js';
import { parseStocksPage } from '../../../shared/stocks/stocks-page.js';

const PAGE_SIZE = 3;

function body(overrides: Record<string, unknown> = {}, omit?: string): string {
  const page: Record<string, unknown> = {
    number: 2,
    totalPages: 5,
    totalItems: 14,
    entries: [{ variantId: 'V-1' }, { variantId: 'V-2' }],
    ...overrides,
  };
  if (omit) delete page[omit];
  return JSON.stringify(page);
}

function parseError(text: string, requestedPage = 2): StockSyncError {
  try {
    parseStocksPage(text, requestedPage, PAGE_SIZE);
  } catch (error) {
    expect(error).toBeInstanceOf(StockSyncError);
    return error as StockSyncError;
  }
  throw new Error('expected parseStocksPage to throw');
}

describe('parseStocksPage', () => {
  it('returns a valid page with its entries left unchecked', () => {
    // Act
    const page = parseStocksPage(body(), 2, PAGE_SIZE);

    // Assess
    expect(page).toEqual({
      number: 2,
      totalPages: 5,
      totalItems: 14,
      entries: [{ variantId: 'V-1' }, { variantId: 'V-2' }],
    });
  });

  it('accepts the empty first page of an empty catalogue', () => {
    // Act
    const page = parseStocksPage(
      body({ number: 1, totalPages: 0, totalItems: 0, entries: [] }),
      1,
      PAGE_SIZE,
    );

    // Assess
    expect(page.entries).toEqual([]);
    expect(page.totalPages).toBe(0);
  });

  it('accepts exactly pageSize entries', () => {
    // Act
    const page = parseStocksPage(body({ entries: [1, 2, 3] }), 2, PAGE_SIZE);

    // Assess
    expect(page.entries).toHaveLength(PAGE_SIZE);
  });

  it.each(['', 'not json', '{"number":2', '<html>502 Bad Gateway</html>'])(
    'refuses the unparseable body %j as an invalid page naming body',
    (text) => {
      // Act
      const error = parseError(text);

      // Assess
      expect(error.code).toBe('invalid_page');
      expect(error.message).toBe('stocks page 2: body is not valid JSON');
    },
  );

  it.each(['null', '[]', '"page"', '42', 'true'])(
    'refuses the non-object body %s as an invalid page naming body',
    (text) => {
      // Act
      const error = parseError(text);

      // Assess
      expect(error.code).toBe('invalid_page');
      expect(error.message).toBe('stocks page 2: body is not a JSON object');
    },
  );

  describe.each(['number', 'totalPages', 'totalItems'])('the count %s', (field) => {
    it('is required', () => {
      // Act
      const error = parseError(body({}, field));

      // Assess
      expect(error.code).toBe('invalid_page');
      expect(error.message).toBe(`stocks page 2: ${field} must be a whole number`);
    });

    it.each([
      ['a digit string', '2'],
      ['null', null],
      ['fractional', 2.5],
      ['negative', -1],
      ['beyond a safe integer', 2 ** 53],
      ['an array', [2]],
    ])('is refused when %s', (_label, value) => {
      // Act
      const error = parseError(body({ [field]: value }));

      // Assess
      expect(error.code).toBe('invalid_page');
      expect(error.message).toBe(`stocks page 2: ${field} must be a whole number`);
    });
  });

  it('refuses a page whose number is not the page requested', () => {
    // Act
    const error = parseError(body({ number: 3 }));

    // Assess
    expect(error.code).toBe('invalid_page');
    expect(error.message).toBe('stocks page 2: number is 3, not the page requested');
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['an object', { 0: {} }],
    ['a string', '[]'],
  ])('refuses entries that are %s', (_label, entries) => {
    // Prepare
    const text = entries === undefined ? body({}, 'entries') : body({ entries });

    // Act
    const error = parseError(text);

    // Assess
    expect(error.code).toBe('invalid_page');
    expect(error.message).toBe('stocks page 2: entries must be an array');
  });

  it('refuses a page holding more entries than the pageSize requested', () => {
    // Act
    const error = parseError(body({ entries: [1, 2, 3, 4] }));

    // Assess
    expect(error.code).toBe('invalid_page');
    expect(error.message).toBe('stocks page 2: entries holds more than the 3 requested');
  });
});
