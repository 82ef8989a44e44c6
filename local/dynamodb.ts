/**
 * A local DynamoDB for tests and the local stack: dynalite, kept in memory,
 * on a free loopback port, with the product's tables already created.
 *
 * dynalite implements no UpdateTimeToLive, so the TTL attributes named in
 * `tables.ts` are never switched on here and expired items are never swept.
 * That is harmless because the product checks an item's expiry on every read
 * instead of trusting DynamoDB to have deleted it; it also means a test can
 * see expired items that DynamoDB would eventually have removed.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';

import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';

import { listenOnFreePort, stopServer } from './free-port.js';
import { tableDefinitions } from './tables.js';

/** Stage used to derive table names when none is given. */
export const DEFAULT_LOCAL_STAGE = 'local';

/** Longest wait for a created table to report ACTIVE. */
const TABLE_ACTIVE_TIMEOUT_SECS = 10;

/** The subset of dynalite's options this module uses. */
interface DynaliteOptions {
  /** Milliseconds a table stays CREATING; dynalite's default is 500. */
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
  /** LevelDB folder; left out, dynalite keeps everything in memory. */
  path?: string;
}

// dynalite is CommonJS and ships no types; load it through `require` and
// give it the one signature used here.
const dynalite = createRequire(import.meta.url)('dynalite') as (options: DynaliteOptions) => Server;

export interface StartDynamoDbOptions {
  /** Stage that table names are derived from. Default: `'local'`. */
  stage?: string;
}

export interface LocalDynamoDb {
  /** `http://127.0.0.1:<port>`, to pass as the SDK client's `endpoint`. */
  endpoint: string;
  /** Stops the server and drops every table and item. */
  stop(): Promise<void>;
}

/**
 * Starts an in-memory dynalite on 127.0.0.1 at a free port and creates the
 * tables from `tableDefinitions(stage)`; resolves once all are ACTIVE.
 */
export async function startDynamoDb(options: StartDynamoDbOptions = {}): Promise<LocalDynamoDb> {
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  const { url } = await listenOnFreePort(server);

  try {
    await createTables(url, options.stage ?? DEFAULT_LOCAL_STAGE);
  } catch (error) {
    await stopServer(server);
    throw error;
  }

  return { endpoint: url, stop: () => stopServer(server) };
}

async function createTables(endpoint: string, stage: string): Promise<void> {
  // Static credentials and region: the client must never look for real ones.
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });

  try {
    for (const definition of tableDefinitions(stage)) {
      await client.send(new CreateTableCommand(definition));
      await waitUntilTableExists(
        { client, maxWaitTime: TABLE_ACTIVE_TIMEOUT_SECS, minDelay: 1 },
        { TableName: definition.TableName },
      );
    }
  } finally {
    client.destroy();
  }
}
