import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { SyncRunStore, type SyncRunSummary } from '../../../shared/stocks/sync-run-store.js';
import { FakeAwsClient, serviceError } from '../../helpers/fake-aws.js';

const TABLE = 'stock-sync-runs-test';
const STARTED_AT = '2026-03-01T02:00:00.000Z';
const NINETY_DAYS_SECS = 90 * 86_400;

function summary(overrides: Partial<SyncRunSummary> = {}): SyncRunSummary {
  return {
    runId: 'run-0001',
    scheduledAt: '2026-03-01T02:00:00Z',
    startedAt: STARTED_AT,
    status: 'running',
    pages: 0,
    totalPages: 0,
    itemsRead: 0,
    written: 0,
    rejected: 0,
    duplicates: 0,
    tokenRefreshes: 0,
    ...overrides,
  };
}

describe('SyncRunStore', () => {
  describe('save', () => {
    it('puts a running summary with numbers as N, strings as S and a 90-day ttl', async () => {
      // Prepare
      const dynamo = new FakeAwsClient({ PutItemCommand: () => ({}) });
      const store = new SyncRunStore(dynamo.as<DynamoDBClient>(), TABLE);

      // Act
      await store.save(summary());

      // Assess
      expect(dynamo.count('PutItemCommand')).toBe(1);
      expect(dynamo.calls[0]?.input).toEqual({
        TableName: TABLE,
        Item: {
          ttl: { N: String(Date.parse(STARTED_AT) / 1000 + NINETY_DAYS_SECS) },
          runId: { S: 'run-0001' },
          scheduledAt: { S: '2026-03-01T02:00:00Z' },
          startedAt: { S: STARTED_AT },
          status: { S: 'running' },
          pages: { N: '0' },
          totalPages: { N: '0' },
          itemsRead: { N: '0' },
          written: { N: '0' },
          rejected: { N: '0' },
          duplicates: { N: '0' },
          tokenRefreshes: { N: '0' },
        },
      });
    });

    it('puts every field of a finished, failed summary', async () => {
      // Prepare
      const dynamo = new FakeAwsClient({ PutItemCommand: () => ({}) });
      const store = new SyncRunStore(dynamo.as<DynamoDBClient>(), TABLE);
      const failed = summary({
        status: 'failed',
        finishedAt: '2026-03-01T02:04:00.000Z',
        pages: 2,
        totalPages: 7,
        itemsRead: 1_000,
        written: 990,
        rejected: 8,
        duplicates: 2,
        tokenSource: 'cache',
        tokenRefreshes: 1,
        errorCode: 'stocks_api_unavailable',
        errorMessage: 'stocks page 3 failed after 3 attempt(s): HTTP 503: "down"',
      });

      // Act
      await store.save(failed);

      // Assess
      expect(dynamo.calls[0]?.input.Item).toMatchObject({
        status: { S: 'failed' },
        finishedAt: { S: '2026-03-01T02:04:00.000Z' },
        totalPages: { N: '7' },
        itemsRead: { N: '1000' },
        written: { N: '990' },
        rejected: { N: '8' },
        duplicates: { N: '2' },
        tokenSource: { S: 'cache' },
        tokenRefreshes: { N: '1' },
        errorCode: { S: 'stocks_api_unavailable' },
        errorMessage: { S: 'stocks page 3 failed after 3 attempt(s): HTTP 503: "down"' },
      });
    });

    it('leaves out fields that are absent or empty strings', async () => {
      // Prepare
      const dynamo = new FakeAwsClient({ PutItemCommand: () => ({}) });
      const store = new SyncRunStore(dynamo.as<DynamoDBClient>(), TABLE);

      // Act
      await store.save(summary({ errorMessage: '', tokenSource: undefined }));

      // Assess
      const item = dynamo.calls[0]?.input.Item as Record<string, unknown>;
      expect(Object.keys(item)).not.toContain('errorMessage');
      expect(Object.keys(item)).not.toContain('tokenSource');
      expect(Object.keys(item)).not.toContain('finishedAt');
      for (const value of Object.values(item)) {
        expect(Object.keys(value as object)).toHaveLength(1);
        expect(['S', 'N']).toContain(Object.keys(value as object)[0]);
      }
    });

    it('passes a failed put on to its caller', async () => {
      // Prepare
      const refused = serviceError('ResourceNotFoundException');
      const dynamo = new FakeAwsClient({
        PutItemCommand: () => {
          throw refused;
        },
      });
      const store = new SyncRunStore(dynamo.as<DynamoDBClient>(), TABLE);

      // Act
      const saving = store.save(summary());

      // Assess
      await expect(saving).rejects.toBe(refused);
    });
  });
});
