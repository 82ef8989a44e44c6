/**
 * Summary items of stock sync runs: one item per run, written as `running`
 * when the run starts and overwritten with the final counts and status when
 * it ends, so a run that dies without finishing is visible as such.
 */
import { PutItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SYNC_RUN_RETENTION_SECS } from '../constants.js';

export type SyncRunStatus = 'running' | 'succeeded' | 'failed';

export interface SyncRunSummary {
  runId: string;
  /** The schedule's `time`: which night this run belongs to. */
  scheduledAt: string;
  startedAt: string;
  finishedAt?: string;
  status: SyncRunStatus;
  pages: number;
  totalPages: number;
  itemsRead: number;
  written: number;
  rejected: number;
  duplicates: number;
  /** Where the first token came from: caller memory, broker cache or token endpoint. */
  tokenSource?: string;
  tokenRefreshes: number;
  errorCode?: string;
  errorMessage?: string;
}

export class SyncRunStore {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async save(summary: SyncRunSummary): Promise<void> {
    await this.dynamo.send(
      new PutItemCommand({ TableName: this.tableName, Item: toItem(summary) }),
    );
  }
}

function toItem(summary: SyncRunSummary): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {
    ttl: { N: String(Math.floor(Date.parse(summary.startedAt) / 1000) + SYNC_RUN_RETENTION_SECS) },
  };
  for (const [field, value] of Object.entries(summary)) {
    if (typeof value === 'number') item[field] = { N: String(value) };
    else if (typeof value === 'string' && value !== '') item[field] = { S: value };
  }
  return item;
}

/** A summary item read back: the inverse of how `save` stores it. */
export function syncRunFromItem(item: Record<string, AttributeValue>): SyncRunSummary {
  const fields: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(item)) {
    if (name === 'ttl') continue;
    if (value.N !== undefined) fields[name] = Number(value.N);
    else if (value.S !== undefined) fields[name] = value.S;
  }
  return { ...newSyncRun('', '', ''), ...fields } as SyncRunSummary;
}

/** A run that has just started: status `running`, every count at zero. */
export function newSyncRun(runId: string, scheduledAt: string, startedAt: string): SyncRunSummary {
  return {
    runId,
    scheduledAt,
    startedAt,
    status: 'running',
    pages: 0,
    totalPages: 0,
    itemsRead: 0,
    written: 0,
    rejected: 0,
    duplicates: 0,
    tokenRefreshes: 0,
  };
}
