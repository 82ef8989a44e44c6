import { describe, expect, it } from 'vitest';
import { summaryText } from '../../../ops/sync.js';
import { syncRunFromItem as runFromItem } from '../../../shared/stocks/sync-run-store.js';

const item = {
  runId: { S: 'a22c4bc8-db0b-4702-bafd-42300aa21f68' },
  scheduledAt: { S: '2026-12-04T02:00:00.000Z' },
  startedAt: { S: '2026-12-04T02:00:01.000Z' },
  finishedAt: { S: '2026-12-04T02:00:05.500Z' },
  status: { S: 'succeeded' },
  pages: { N: '40' },
  totalPages: { N: '40' },
  itemsRead: { N: '20000' },
  written: { N: '19990' },
  rejected: { N: '10' },
  duplicates: { N: '0' },
  tokenSource: { S: 'token_endpoint' },
  tokenRefreshes: { N: '0' },
  ttl: { N: '1804176001' },
};

describe('runFromItem', () => {
  it('reads a summary item as SyncRunStore writes it, without its ttl', () => {
    const run = runFromItem(item);

    expect(run).toMatchObject({ runId: item.runId.S, status: 'succeeded', written: 19_990 });
    expect(run).not.toHaveProperty('ttl');
  });
});

describe('summaryText', () => {
  it('prints the run as npm start does', () => {
    expect(summaryText(runFromItem(item))).toBe(
      [
        'Stock sync run a22c4bc8-db0b-4702-bafd-42300aa21f68: succeeded',
        '  pages read        40 of 40',
        '  stock items read  20000',
        '  items written     19990',
        '  items rejected    10',
        '  token from        token_endpoint',
        '  token refreshes   0',
        '  scheduled at      2026-12-04T02:00:00Z',
        '  elapsed           4.5 s',
        '',
      ].join('\n'),
    );
  });

  it('adds the error of a failed run', () => {
    const failed = runFromItem({
      ...item,
      status: { S: 'failed' },
      errorCode: { S: 'token_unavailable:invalid_client' },
      errorMessage: { S: 'the token server refused the credentials of farfetch' },
    });

    expect(summaryText(failed)).toContain(
      '  error             token_unavailable:invalid_client: the token server refused',
    );
  });
});
