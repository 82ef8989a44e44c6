/**
 * `sync run` and `sync last`: start the stock sync the way its nightly rule
 * does, with a real EventBridge "Scheduled Event" sent through the Lambda
 * Invoke API, and read the run summaries the sync records.
 */
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { scheduledEvent } from '../local/scheduled-event.js';
import { syncRunFromItem, type SyncRunSummary } from '../shared/stocks/sync-run-store.js';
import type { OptionValues } from './arguments.js';
import type { CommandResult, OpsContext } from './context.js';
import { EXIT_CODES, fromAwsError, UsageError } from './errors.js';
import {
  formatElapsed,
  formatFields,
  formatInstant,
  formatTable,
  shortId,
  type Column,
} from './table.js';

export const DEFAULT_RUN_LIMIT = 5;
const MAX_RUN_LIMIT = 100;

/** A function error as Lambda returns it in the payload. */
interface FunctionErrorPayload {
  errorType?: string;
  errorMessage?: string;
}

export async function syncRun(ctx: OpsContext, options: OptionValues): Promise<CommandResult> {
  const functionName = ctx.target.stockSyncFunction;
  let event;
  try {
    // The event names the region the rule would run in: the client's own.
    event = scheduledEvent({
      stage: ctx.target.stage,
      region: await ctx.clients.lambda.config.region(),
    });
  } catch (error) {
    throw fromAwsError(error, 'resolving the AWS region');
  }
  const asynchronous = options.async === true;
  let output;
  try {
    output = await ctx.clients.lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: asynchronous ? 'Event' : 'RequestResponse',
        Payload: Buffer.from(JSON.stringify(event)),
      }),
    );
  } catch (error) {
    throw fromAwsError(error, `invoking ${functionName}`);
  }

  if (asynchronous) {
    return {
      data: { functionName, eventId: event.id, started: true },
      text: `Started ${functionName} (event ${event.id}); see \`sync last\` for its summary.\n`,
    };
  }
  const payload = parsePayload(output.Payload);
  if (output.FunctionError) {
    const failure = payload as FunctionErrorPayload | undefined;
    const message = failure?.errorMessage ?? 'no error message';
    return {
      data: {
        functionName,
        eventId: event.id,
        functionError: output.FunctionError,
        error: failure,
      },
      text: `Stock sync failed: ${message}\nIts summary: sync last\n`,
      exitCode: EXIT_CODES.failed,
    };
  }
  const summary = payload as SyncRunSummary;
  return { data: summary, text: summaryText(summary) };
}

export async function syncLast(ctx: OpsContext, options: OptionValues): Promise<CommandResult> {
  const limit = runLimit(options.limit);
  const runs = (await scanRuns(ctx))
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt))
    .slice(0, limit);
  const text = runs.length
    ? formatTable(RUN_COLUMNS, runs)
    : `No stock sync runs in ${ctx.target.tables.syncRuns}.\n`;
  return { data: { runs }, text };
}

/** One run as `sync run` prints it. */
export function summaryText(summary: SyncRunSummary): string {
  return formatFields(`Stock sync run ${summary.runId}: ${summary.status}`, [
    ['pages read', `${summary.pages} of ${summary.totalPages}`],
    ['stock items read', String(summary.itemsRead)],
    ['items written', String(summary.written)],
    ['items rejected', String(summary.rejected)],
    ['token from', summary.tokenSource ?? '-'],
    ['token refreshes', String(summary.tokenRefreshes)],
    ['scheduled at', formatInstant(summary.scheduledAt)],
    ['elapsed', elapsedOf(summary)],
    ...(summary.errorCode
      ? ([['error', `${summary.errorCode}: ${summary.errorMessage ?? ''}`]] as [string, string][])
      : []),
  ]);
}

const RUN_COLUMNS: Column<SyncRunSummary>[] = [
  { header: 'RUN', value: (run) => shortId(run.runId, 8) },
  { header: 'STATUS', value: (run) => run.status },
  { header: 'STARTED', value: (run) => formatInstant(run.startedAt) },
  { header: 'ELAPSED', value: elapsedOf, align: 'right' },
  { header: 'PAGES', value: (run) => `${run.pages}/${run.totalPages}`, align: 'right' },
  { header: 'READ', value: (run) => String(run.itemsRead), align: 'right' },
  { header: 'WRITTEN', value: (run) => String(run.written), align: 'right' },
  { header: 'REJECTED', value: (run) => String(run.rejected), align: 'right' },
  { header: 'ERROR', value: (run) => run.errorCode ?? '-' },
];

function elapsedOf(summary: SyncRunSummary): string {
  if (!summary.finishedAt) return '-';
  return formatElapsed(Date.parse(summary.finishedAt) - Date.parse(summary.startedAt));
}

async function scanRuns(ctx: OpsContext): Promise<SyncRunSummary[]> {
  const runs: SyncRunSummary[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  const table = ctx.target.tables.syncRuns;
  try {
    // Summaries live 90 days, one per night: a scan reads about a hundred items.
    do {
      const page = await ctx.clients.dynamo.send(
        new ScanCommand({ TableName: table, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }),
      );
      runs.push(...(page.Items ?? []).map(syncRunFromItem));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  } catch (error) {
    throw fromAwsError(error, `scanning table ${table}`);
  }
  return runs;
}

function runLimit(value: string | boolean | undefined): number {
  if (value === undefined) return DEFAULT_RUN_LIMIT;
  const limit = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || limit < 1 || limit > MAX_RUN_LIMIT) {
    throw new UsageError(`--limit must be a whole number from 1 to ${MAX_RUN_LIMIT}`);
  }
  return limit;
}

function parsePayload(payload: Uint8Array | undefined): unknown {
  if (!payload || payload.length === 0) return undefined;
  const text = Buffer.from(payload).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { errorMessage: 'the function returned a payload that is not JSON' };
  }
}
