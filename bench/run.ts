/**
 * `npm run bench`: measures the token broker against the ways the same
 * problem is solved today, on servers it starts on 127.0.0.1 and stops
 * again, and writes the results as JSON (`bench/results/latest.json`) and
 * Markdown (`BENCHMARKS.md`). dynalite runs in a child process of its own,
 * as DynamoDB is a service of its own; the other servers run in this one.
 *
 *   npm run bench                    the full run (under 10 minutes on 2 cores)
 *   npm run bench -- --smoke         tiny parameters, for CI; writes bench/results/smoke.*
 *   npm run bench -- --out DIR       write the results into DIR instead
 *   npm run bench -- --only 1,3      only these figures; writes DIR/partial.*
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { format, resolveConfig } from 'prettier';
import { bundle, REPO_ROOT } from './build.js';
import type { BenchContext } from './context.js';
import { measureBundleCost } from './figures/bundle-cost.js';
import { measureColdStart } from './figures/cold-start.js';
import { measurePathLatency } from './figures/path-latency.js';
import { measureSteadyState } from './figures/steady-state.js';
import { measureStockSync } from './figures/stock-sync.js';
import { startBenchServers } from './local-servers.js';
import { describeMachine } from './machine.js';
import { renderMarkdown } from './markdown.js';
import { FULL_PARAMS, SMOKE_PARAMS, tokenRequestBudget } from './params.js';
import type { BenchResults } from './results.js';
import { checkTargets } from './targets.js';

const USAGE = `Usage: npm run bench -- [--smoke] [--out DIR] [--only 1,2,3,4,5]`;

/** The whole run is abandoned past this; the issue bounds the full run at 10 minutes. */
const RUN_DEADLINE_MS = { full: 9.5 * 60_000, smoke: 3 * 60_000 } as const;

const FIGURES = [1, 2, 3, 4, 5] as const;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
      only: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const params = values.smoke ? SMOKE_PARAMS : FULL_PARAMS;
  const only = values.only ? values.only.split(',').map(Number) : [...FIGURES];
  if (only.some((n) => !(FIGURES as readonly number[]).includes(n))) {
    console.error(`--only takes figure numbers from 1 to 5\n\n${USAGE}`);
    return 2;
  }
  const partial = only.length < FIGURES.length;
  const outDir = path.resolve(values.out ?? path.join(REPO_ROOT, 'bench', 'results'));
  const command = ['npm run bench', ...(values.smoke ? ['-- --smoke'] : [])].join(' ');

  const deadline = setTimeout(() => {
    console.error(`bench: abandoned after ${RUN_DEADLINE_MS[params.name] / 1000} s`);
    process.exit(1);
  }, RUN_DEADLINE_MS[params.name]);
  deadline.unref();

  const results = await measure(params, only, command);
  const baseName = partial ? 'partial' : params.name === 'full' ? 'latest' : 'smoke';
  mkdirSync(outDir, { recursive: true });
  // Formatted as the repository's Prettier would, so `npm run check` passes over it.
  const jsonPath = path.join(outDir, `${baseName}.json`);
  const prettierOptions = (await resolveConfig(jsonPath)) ?? {};
  writeFileSync(
    jsonPath,
    await format(JSON.stringify(results), { ...prettierOptions, filepath: jsonPath }),
  );
  const markdown = renderMarkdown(results);
  const markdownPath =
    params.name === 'full' && !partial && !values.out
      ? path.join(REPO_ROOT, 'BENCHMARKS.md')
      : path.join(outDir, `${baseName === 'latest' ? 'BENCHMARKS' : baseName}.md`);
  writeFileSync(markdownPath, markdown);

  console.error(`bench: wrote ${jsonPath} and ${markdownPath}`);
  for (const check of results.targets) {
    console.error(`  ${check.met ? 'met   ' : 'MISSED'} ${check.name}: ${check.measured}`);
  }
  return 0;
}

async function measure(
  params: typeof FULL_PARAMS,
  only: number[],
  command: string,
): Promise<BenchResults> {
  const startedAtMs = Date.now();
  const machine = describeMachine();
  const workDir = mkdtempSync(path.join(tmpdir(), 'token-broker-bench-'));
  const progress = (message: string) => console.error(`bench: ${message}`);

  progress(`building workers in ${workDir}`);
  const [token, pathLatency, stockSync] = await Promise.all([
    bundle('bench/workers/token-worker.ts', workDir, 'token-worker'),
    bundle('bench/workers/path-latency-worker.ts', workDir, 'path-latency-worker'),
    bundle('bench/workers/stock-sync-worker.ts', workDir, 'stock-sync-worker'),
  ]);
  const servers = await startBenchServers();
  const context: BenchContext = {
    params,
    servers,
    workDir,
    workerBundles: { token: token.file, pathLatency: pathLatency.file, stockSync: stockSync.file },
    progress,
  };

  try {
    const figures: BenchResults['figures'] = {};
    if (only.includes(1)) figures.coldStart = await measureColdStart(context);
    if (only.includes(2)) figures.steadyState = await measureSteadyState(context);
    if (only.includes(3)) figures.pathLatency = await measurePathLatency(context);
    if (only.includes(4)) figures.bundleCost = await measureBundleCost(context);
    if (only.includes(5)) figures.stockSync = await measureStockSync(context);

    const tokenRequests = {
      total: servers.tokenServer.stats().tokenRequests,
      budget: tokenRequestBudget(params),
    };
    if (tokenRequests.total > tokenRequests.budget) {
      throw new Error(
        `the token server received ${tokenRequests.total} requests, over the bound of ${tokenRequests.budget}`,
      );
    }
    return {
      startedAt: new Date(startedAtMs).toISOString(),
      durationSecs: (Date.now() - startedAtMs) / 1000,
      command,
      machine,
      params,
      tokenRequests,
      figures,
      targets: checkTargets(figures),
    };
  } finally {
    await servers.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

// Every SDK client here has an explicit endpoint and static credentials; these
// make sure nothing would look for real ones, and keep the output clean.
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => process.exit(130));
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('bench failed:', error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
