/**
 * Figure 3's worker: times each path a token can take, in a process apart
 * from the servers, so a measured call never shares an event loop with the
 * server answering it.
 *
 * - `direct`: one token request with `TokenEndpointClient` (the reference);
 * - `callerMemory`: a warm caller, `BrokerClient` answering from its memory.
 *   Its Lambda client is an in-process stand-in that hands the request to a
 *   `TokenBroker`; on a memory hit it is never called;
 * - `brokerMemory`: the same `TokenBroker` asked again;
 * - `sharedCache`: a fresh `TokenBroker` (cold memory) finding the token in
 *   the shared table;
 * - `miss`: a fresh `TokenBroker` with the table emptied first (untimed):
 *   lease, token request, conditional write.
 *
 * SDK clients, the profile store and its connections are shared by all paths
 * and warmed before timing, so each path is timed as a warm environment
 * meets it.
 */
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import type { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { BrokerClient } from '../../shared/broker-client.js';
import { tokenCacheKey } from '../../shared/cache-key.js';
import { brokerParts, quietLog, serveCommands } from './environment.js';
import { TOKEN_PATHS, type PathLatencyConfig, type PathTrial, type TokenPath } from './protocol.js';

const MAX_LIFETIME_MS = 300_000;

const config = JSON.parse(process.argv[2] ?? '') as PathLatencyConfig;
const client = config.endpoints.profileName;
const parts = brokerParts(config.endpoints);
const warmBroker = parts.newBroker();
const caller = new BrokerClient({
  lambda: inProcessLambda() as unknown as LambdaClient,
  functionName: 'bench-token-broker',
  client,
  log: quietLog,
});

/** Stands in for the Lambda Invoke API: the payload goes to `warmBroker` and back as bytes. */
function inProcessLambda() {
  return {
    send: async (command: InvokeCommand) => {
      const request = JSON.parse(Buffer.from(command.input.Payload as Uint8Array).toString());
      const reply = await warmBroker.getToken(request);
      return { StatusCode: 200, Payload: Buffer.from(JSON.stringify(reply)) };
    },
  };
}

async function clearSharedToken(): Promise<void> {
  const { profile } = await parts.profiles.get(client);
  await parts.dynamo.send(
    new DeleteItemCommand({
      TableName: config.endpoints.tables.tokens,
      Key: { cacheKey: { S: tokenCacheKey(profile, profile.scopes) } },
    }),
  );
}

/** What one call of each path does; the preparation before it is not timed. */
const paths: Record<TokenPath, { prepare?: () => Promise<void>; call: () => Promise<string> }> = {
  direct: {
    call: async () => {
      const { profile } = await parts.profiles.get(client);
      await parts.tokenEndpoint.requestToken(profile, profile.scopes);
      return 'token_endpoint';
    },
  },
  callerMemory: { call: async () => (await caller.getToken()).source },
  brokerMemory: { call: async () => (await warmBroker.getToken({ client })).source },
  sharedCache: { call: async () => (await parts.newBroker().getToken({ client })).source },
  miss: {
    prepare: clearSharedToken,
    call: async () => (await parts.newBroker().getToken({ client })).source,
  },
};

async function timeCall(path: TokenPath): Promise<{ ms: number; source: string }> {
  await paths[path].prepare?.();
  const started = performance.now();
  const source = await paths[path].call();
  return { ms: performance.now() - started, source };
}

async function trial(): Promise<PathTrial> {
  // Make sure the shared table, the broker and the caller all hold a token.
  await caller.getToken();
  for (const path of TOKEN_PATHS) {
    for (let i = 0; i < config.warmupCalls; i++) await timeCall(path);
  }
  await caller.getToken();

  const latenciesMs = {} as PathTrial['latenciesMs'];
  const sources = {} as PathTrial['sources'];
  for (const path of TOKEN_PATHS) {
    latenciesMs[path] = [];
    sources[path] = {};
    for (let i = 0; i < config.samples[path]; i++) {
      const { ms, source } = await timeCall(path);
      latenciesMs[path].push(ms);
      sources[path][source] = (sources[path][source] ?? 0) + 1;
    }
    // A miss leaves a new token in the table; the memory paths keep theirs.
  }
  return { latenciesMs, sources };
}

serveCommands(async (command) => {
  if (command.type !== 'trial') throw new Error(`unknown command ${command.type}`);
  return trial();
}, MAX_LIFETIME_MS);
