/*
 * Leak canary: a run of the whole local stack with two canary client secrets,
 * one the token server accepts (the stack's generated secret) and one it
 * refuses (with characters that every encoding changes), driven through
 * successes and failures: cold and warm tokens, a refusal whose reply echoes
 * the canary in each encoded form, client_secret_basic, a rotation, a 401
 * mid-sync, a failed sync. Then every captured function log line, every
 * invoke reply or error, every file written under the repository's `.local/`
 * and the OS temp folder since the start, and every DynamoDB item is searched
 * for the canaries (raw, percent-, form-, base64- and Basic-encoded) and for
 * every token the token server issued. Tokens may appear only in a token
 * reply's `accessToken` and in the tokens table's `accessToken` attribute.
 * Build output (`.esbuild/`) holds bundles only and is not searched.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduledEvent } from '../../local/scheduled-event.js';
import {
  LOCAL_CLIENT_ID,
  LOCAL_PROFILE,
  startLocalStack,
  type InvokeResult,
  type LocalStack,
} from '../../local/stack.js';
import { formEncode } from '../../shared/client-auth.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Refused by the token server; holds characters that each encoding rewrites. */
const REFUSED_CANARY = `canary-${randomBytes(9).toString('hex')} +/=%&?`;
/** Bounds on the file search. */
const MAX_FILES = 5_000;
const MAX_FILE_BYTES = 4 * 1024 * 1024;
const MAX_DEPTH = 4;

let stack: LocalStack;
let startedAtMs: number;
const logLines: string[] = [];
const replies: InvokeResult[] = [];

async function invoke(key: 'tokenBroker' | 'stockSync', payload: unknown) {
  const result = await stack.invoke(key, payload);
  replies.push(result);
  return result;
}

function profile(secret: string, extra: Record<string, unknown> = {}) {
  return {
    client_id: LOCAL_CLIENT_ID,
    client_secret: secret,
    token_url: stack.endpoints.tokenUrl,
    scopes: ['stocks'],
    ...extra,
  };
}

/** Every form a client secret travels or could be echoed in. */
function encodedForms(secret: string): Record<string, string> {
  const basic = `${formEncode(LOCAL_CLIENT_ID)}:${formEncode(secret)}`;
  return {
    raw: secret,
    percentEncoded: encodeURIComponent(secret),
    formEncoded: formEncode(secret),
    base64: Buffer.from(secret).toString('base64'),
    base64url: Buffer.from(secret).toString('base64url'),
    basic: Buffer.from(basic).toString('base64'),
  };
}

beforeAll(async () => {
  startedAtMs = Date.now();
  stack = await startLocalStack({ totalItems: 1_000, onLog: (line) => logLines.push(line) });
});

afterAll(async () => {
  stack?.tokenServer.setFault(undefined);
  stack?.stocksApi.setFault(undefined);
  await stack?.stop();
});

describe('a run with canary secrets', () => {
  it('goes through successes and failures', async () => {
    // Cold and warm tokens with the accepted canary.
    expect((await invoke('tokenBroker', { client: LOCAL_PROFILE })).payload).toMatchObject({
      source: 'token_endpoint',
    });
    expect((await invoke('tokenBroker', { client: LOCAL_PROFILE })).payload).toMatchObject({
      source: 'broker_memory',
    });

    // A refusal whose reply echoes the refused canary in every form it travels in.
    const forms = encodedForms(REFUSED_CANARY);
    const echoes = [forms.raw, forms.percentEncoded, forms.formEncoded, forms.basic].join(' | ');
    stack.tokenServer.setFault(() => ({
      status: 401,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ error: 'invalid_client', error_description: `bad: ${echoes}` }),
    }));
    await stack.putProfile('canary-refused', profile(REFUSED_CANARY, { audience: 'canary-1' }));
    const refused = await invoke('tokenBroker', { client: 'canary-refused' });
    stack.tokenServer.setFault(undefined);
    expect(refused.payload).toMatchObject({ error: { code: 'invalid_client' } });

    // The refused canary sent with HTTP Basic.
    await stack.putProfile(
      'canary-basic',
      profile(REFUSED_CANARY, { audience: 'canary-2', auth_method: 'client_secret_basic' }),
    );
    expect((await invoke('tokenBroker', { client: 'canary-basic' })).payload).toMatchObject({
      error: { code: 'invalid_client' },
    });

    // A rotation from the refused canary to the accepted one.
    await stack.putProfile('canary-rotated', profile(REFUSED_CANARY, { audience: 'canary-3' }));
    expect((await invoke('tokenBroker', { client: 'canary-rotated' })).payload).toMatchObject({
      error: { code: 'invalid_client' },
    });
    await stack.putProfile('canary-rotated', profile(stack.clientSecret, { audience: 'canary-3' }));
    expect((await invoke('tokenBroker', { client: 'canary-rotated' })).payload).toMatchObject({
      source: 'token_endpoint',
    });

    // A sync whose token the stocks API refuses once mid-run.
    let refusedOnce = false;
    stack.stocksApi.setFault(({ page }) => {
      if (page !== 2 || refusedOnce) return undefined;
      refusedOnce = true;
      return { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } };
    });
    const synced = await invoke('stockSync', scheduledEvent());
    stack.stocksApi.setFault(undefined);
    expect(synced.payload).toMatchObject({ status: 'succeeded', tokenRefreshes: 1 });

    // A sync that fails: every token revoked and the token server down.
    await stack.tokenServer.revokeAll();
    stack.tokenServer.setFault(() => ({ status: 500, body: 'Internal Server Error' }));
    const failed = await invoke('stockSync', scheduledEvent());
    stack.tokenServer.setFault(undefined);
    expect(failed.functionError).toBe('Unhandled');

    expect(stack.tokenServer.issuedTokens().length).toBeGreaterThanOrEqual(3);
  });
});

// ---- Where to search ----

/** Replies as searched: a token reply's own `accessToken` is where a token belongs. */
function replyTexts(): string[] {
  return replies.map((reply) =>
    JSON.stringify(reply, (key, value: unknown) => (key === 'accessToken' ? '[token]' : value)),
  );
}

/** Regular files under `root` changed since the run started, within the bounds. */
async function filesWrittenSince(root: string, sinceMs: number): Promise<string[]> {
  const found: string[] = [];
  const walk = async (folder: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH || found.length >= MAX_FILES) return;
    const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory() && entry.name !== 'node_modules') await walk(full, depth + 1);
      if (!entry.isFile() || found.length >= MAX_FILES) continue;
      const info = await stat(full).catch(() => undefined);
      if (info && info.mtimeMs >= sinceMs && info.size <= MAX_FILE_BYTES) found.push(full);
    }
  };
  await walk(root, 0);
  return found;
}

async function scanAll(table: string): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  for (let page = 0; page < 100; page++) {
    const reply = await stack.clients.dynamo.send(
      new ScanCommand({ TableName: table, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }),
    );
    items.push(...(reply.Items ?? []));
    startKey = reply.LastEvaluatedKey;
    if (!startKey) return items;
  }
  throw new Error(`scan of ${table} did not end`);
}

describe('after the run', () => {
  it('no canary secret and no issued token appears in any log, reply, file or table item', async () => {
    // Prepare: the needles and the haystacks.
    const needles = new Map<string, string>();
    for (const [form, value] of Object.entries(encodedForms(stack.clientSecret))) {
      needles.set(`accepted canary (${form})`, value);
    }
    for (const [form, value] of Object.entries(encodedForms(REFUSED_CANARY))) {
      needles.set(`refused canary (${form})`, value);
    }
    stack.tokenServer
      .issuedTokens()
      .forEach((token, index) => needles.set(`token #${index + 1}`, token));

    const files = [
      ...(await filesWrittenSince(path.join(REPO_ROOT, '.local'), startedAtMs)),
      ...(await filesWrittenSince(tmpdir(), startedAtMs)),
    ];
    const tokenItems = (await scanAll(stack.tables.tokens)).map((item) => {
      const { accessToken: _token, ...rest } = item;
      return rest;
    });
    const haystacks = new Map<string, string>([
      ['function logs', logLines.join('\n')],
      ['invoke replies and errors', replyTexts().join('\n')],
      ['tokens table (but accessToken)', JSON.stringify(tokenItems)],
      ['stocks table', JSON.stringify(await scanAll(stack.tables.stocks))],
      ['sync-runs table', JSON.stringify(await scanAll(stack.tables.syncRuns))],
    ]);
    for (const file of files) {
      haystacks.set(file, await readFile(file, 'latin1').catch(() => ''));
    }

    // Act
    const leaks: string[] = [];
    for (const [where, text] of haystacks) {
      for (const [what, needle] of needles) {
        if (text.includes(needle)) leaks.push(`${what} in ${where}`);
      }
    }

    // Assess
    expect(logLines.length).toBeGreaterThan(20);
    expect(replies.length).toBeGreaterThanOrEqual(8);
    expect(needles.size).toBeGreaterThanOrEqual(12 + 3);
    expect(leaks).toEqual([]);
  });
});
