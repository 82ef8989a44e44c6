/**
 * `npm start`: one full stock sync against the local stack. Starts the stack
 * on 127.0.0.1, fires the stock sync with a real scheduled event through the
 * Lambda Invoke API, prints a short summary per run, and stops everything.
 *
 *   npm start                  one run
 *   npm start -- --runs 2      two runs; the second reuses the cached token
 *   npm start -- --verbose     also print the functions' log lines
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import { scheduledEvent } from '../local/scheduled-event.js';
import type { SyncRunSummary } from '../shared/stocks/sync-run-store.js';

const USAGE = `Usage: npm start -- [--runs N] [--verbose]

One full stock sync against the local stack on 127.0.0.1.
  --runs N     run N syncs (1 to 20); later runs reuse the cached token
  --verbose    also print the functions' log lines`;

const TOKEN_SOURCES: Record<string, string> = {
  token_endpoint: 'token server (new token)',
  cache: 'shared cache (DynamoDB)',
  broker_memory: 'broker memory (warm broker)',
  caller_memory: 'caller memory (warm function)',
};

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '1' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) {
    console.error(`--runs must be a whole number from 1 to 20\n\n${USAGE}`);
    return 2;
  }

  const logDir = path.resolve('.local', 'logs');
  mkdirSync(logDir, { recursive: true });
  const logPath = path.join(logDir, `start-${Date.now()}.log`);
  const logFile = createWriteStream(logPath);

  console.log('Starting the local stack on 127.0.0.1 …');
  const startedMs = Date.now();
  const stack = await startLocalStack({
    onLog: (line) => {
      logFile.write(`${line}\n`);
      if (values.verbose) console.log(`  │ ${line}`);
    },
  });
  const stopOnSignal = () => void stack.stop().then(() => process.exit(130));
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  console.log(`Local stack up in ${seconds(Date.now() - startedMs)}.`);

  try {
    for (let run = 1; run <= runs; run++) {
      if (!(await syncOnce(stack, run))) return 1;
    }
    return 0;
  } finally {
    await stack.stop();
    logFile.end();
    console.log(`Function logs: ${path.relative(process.cwd(), logPath)}`);
  }
}

async function syncOnce(stack: LocalStack, run: number): Promise<boolean> {
  const tokenRequestsBefore = stack.tokenServer.stats().tokenRequests;
  const startedMs = Date.now();
  const result = await stack.invoke('stockSync', scheduledEvent());
  const elapsedMs = Date.now() - startedMs;
  const tokenRequests = stack.tokenServer.stats().tokenRequests - tokenRequestsBefore;

  if (result.functionError) {
    const { errorType, errorMessage } = result.payload as {
      errorType?: string;
      errorMessage?: string;
    };
    console.error(`\nRun ${run} failed (${errorType}): ${errorMessage}`);
    return false;
  }
  const summary = result.payload as SyncRunSummary;
  console.log(
    [
      ``,
      `Stock sync run ${run}: ${summary.status}`,
      `  pages read          ${summary.pages} of ${summary.totalPages}`,
      `  stock items read    ${summary.itemsRead}`,
      `  items written       ${summary.written}`,
      `  items rejected      ${summary.rejected}`,
      `  token from          ${TOKEN_SOURCES[summary.tokenSource ?? ''] ?? summary.tokenSource}`,
      `  token requests      ${tokenRequests} to the token server during this run`,
      `  elapsed             ${seconds(elapsedMs)}`,
      `  run id              ${summary.runId}`,
    ].join('\n'),
  );
  return true;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    // Bad options are usage errors, like an invalid --runs.
    process.exit(error instanceof TypeError && 'code' in error ? 2 : 1);
  },
);
