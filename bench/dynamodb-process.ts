/**
 * Starts the benchmark's DynamoDB in a child process of its own
 * (`workers/dynamodb-server.ts`): a real DynamoDB is a service apart from
 * its callers, and in the benchmark's process dynalite's work would queue
 * behind the stocks API's pages and the token server's introspections on
 * one thread, for the product and the baseline alike.
 */
import { fileURLToPath } from 'node:url';
import { WorkerProcess, workerEnvironment } from '../local/ipc-worker.js';
import type { LocalDynamoDb } from '../local/dynamodb.js';
import { REPO_ROOT } from './build.js';

const SERVER_SCRIPT = fileURLToPath(new URL('./workers/dynamodb-server.ts', import.meta.url));

/** Longest the child may take to load tsx and dynalite and create the tables. */
const START_TIMEOUT_MS = 60_000;

/** Longest the child may take to say where it listens once ready. */
const ENDPOINT_TIMEOUT_MS = 5_000;

/** dynalite with the tables of `stage`, on 127.0.0.1 at a free port, in a child process. */
export async function startDynamoDbProcess(stage: string): Promise<LocalDynamoDb> {
  const server = await WorkerProcess.start(
    'dynamodb',
    SERVER_SCRIPT,
    [stage],
    workerEnvironment('local'),
    { nodeFlags: ['--import', 'tsx'], cwd: REPO_ROOT, readyTimeoutMs: START_TIMEOUT_MS },
  );
  try {
    const endpoint = await server.request<string>({ type: 'endpoint' }, ENDPOINT_TIMEOUT_MS);
    return { endpoint, stop: () => server.stop() };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
