/**
 * One page of `GET /stocks`: `{ number, totalPages, totalItems, entries }`.
 * The envelope is validated strictly, because a page that cannot be trusted
 * as a whole (wrong number, no entries array) means the run cannot know what
 * it missed; entries are validated one by one elsewhere.
 */
import { StockSyncError } from '../errors.js';

export interface StocksPage {
  number: number;
  totalPages: number;
  totalItems: number;
  entries: unknown[];
}

export function parseStocksPage(body: string, requestedPage: number, pageSize: number): StocksPage {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw invalid(requestedPage, 'body', 'is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(requestedPage, 'body', 'is not a JSON object');
  }
  const page = value as Record<string, unknown>;
  for (const field of ['number', 'totalPages', 'totalItems'] as const) {
    if (!Number.isSafeInteger(page[field]) || (page[field] as number) < 0) {
      throw invalid(requestedPage, field, 'must be a whole number');
    }
  }
  if (page.number !== requestedPage) {
    throw invalid(requestedPage, 'number', `is ${String(page.number)}, not the page requested`);
  }
  if (!Array.isArray(page.entries)) throw invalid(requestedPage, 'entries', 'must be an array');
  if (page.entries.length > pageSize) {
    throw invalid(requestedPage, 'entries', `holds more than the ${pageSize} requested`);
  }
  return page as unknown as StocksPage;
}

function invalid(page: number, field: string, reason: string): StockSyncError {
  return new StockSyncError('invalid_page', `stocks page ${page}: ${field} ${reason}`);
}
