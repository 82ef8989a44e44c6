import type { LambdaClient } from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import { BrokerClient } from '../../shared/broker-client.js';
import { BrokerError } from '../../shared/errors.js';
import { tokenHash } from '../../shared/redact.js';
import { FakeAwsClient } from '../helpers/fake-aws.js';
import { LogRecorder } from '../helpers/log-recorder.js';

const START_MS = 1_800_000_000_000;

function payload(value: unknown) {
  return { StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(value)) };
}

function token(accessToken: string, lifetimeSecs = 2400, source = 'token_endpoint') {
  return payload({
    accessToken,
    tokenType: 'Bearer',
    expiresAt: START_MS / 1000 + lifetimeSecs,
    lifetimeSecs,
    scope: 'stocks',
    source,
  });
}

function setup(replies: unknown[]) {
  const state = { nowMs: START_MS };
  const queue = [...replies];
  const lambda = new FakeAwsClient({
    InvokeCommand: () => {
      if (queue.length === 0) throw new Error('unexpected invoke');
      return queue.shift();
    },
  });
  const counted: string[] = [];
  const client = new BrokerClient({
    lambda: lambda.as<LambdaClient>(),
    functionName: 'token-broker-prod-tokenBroker',
    client: 'farfetch',
    scopes: ['stocks'],
    log: new LogRecorder(),
    metrics: { count: (name) => counted.push(name), duration: () => undefined },
    clock: () => state.nowMs,
  });
  const requests = () =>
    lambda.calls.map((call) => JSON.parse(Buffer.from(call.input.Payload).toString()));
  return { client, lambda, state, requests, counted };
}

describe('BrokerClient', () => {
  it('sizes the expiry buffer from the granted lifetime, not from what is left', async () => {
    // A 3,600 s token served with 240 s left: its buffer is 60 s, not 24 s.
    const late = payload({
      accessToken: 'at-1',
      tokenType: 'Bearer',
      expiresAt: START_MS / 1000 + 240,
      lifetimeSecs: 3600,
      scope: 'stocks',
      source: 'cache',
    });
    const s = setup([late, token('at-2')]);

    await s.client.getToken();
    s.state.nowMs = START_MS + 179_000;
    const before = await s.client.getToken();
    s.state.nowMs = START_MS + 181_000;
    const inside = await s.client.getToken();

    expect(before).toMatchObject({ accessToken: 'at-1', source: 'caller_memory' });
    expect(inside).toMatchObject({ accessToken: 'at-2', source: 'token_endpoint' });
  });

  it('keeps a 60 s buffer for a reply without a lifetime', async () => {
    const withoutLifetime = payload({
      accessToken: 'at-1',
      tokenType: 'Bearer',
      expiresAt: START_MS / 1000 + 300,
      scope: 'stocks',
    });
    const s = setup([withoutLifetime, token('at-2')]);

    await s.client.getToken();
    s.state.nowMs = START_MS + 239_000;
    const before = await s.client.getToken();
    s.state.nowMs = START_MS + 241_000;
    const inside = await s.client.getToken();

    expect(before.source).toBe('caller_memory');
    expect(inside.accessToken).toBe('at-2');
  });

  it('counts each answer from its own memory as a caller memory hit', async () => {
    const s = setup([token('at-1')]);

    await s.client.getToken();
    await s.client.getToken();
    await s.client.getToken();

    expect(s.counted).toEqual(['CallerMemoryHit', 'CallerMemoryHit']);
  });

  it('invokes the broker with the client and scopes, then serves from memory', async () => {
    const s = setup([token('at-1')]);

    const first = await s.client.getToken();
    const second = await s.client.getToken();

    expect(first).toMatchObject({ accessToken: 'at-1', source: 'token_endpoint' });
    expect(second).toMatchObject({ accessToken: 'at-1', source: 'caller_memory' });
    expect(s.requests()).toEqual([{ client: 'farfetch', scopes: ['stocks'] }]);
  });

  it('passes the broker’s source through, then names its own memory as caller_memory', async () => {
    const s = setup([token('at-1', 2400, 'cache')]);

    const first = await s.client.getToken();
    s.state.nowMs = START_MS + (2400 - 61) * 1000;
    const second = await s.client.getToken();

    expect([first.source, second.source]).toEqual(['cache', 'caller_memory']);
    expect(s.lambda.count('InvokeCommand')).toBe(1);
  });

  it('shares one invoke between concurrent callers', async () => {
    const s = setup([token('at-1')]);

    const tokens = await Promise.all(Array.from({ length: 20 }, () => s.client.getToken()));

    expect(new Set(tokens.map((t) => t.accessToken))).toEqual(new Set(['at-1']));
    expect(s.lambda.count('InvokeCommand')).toBe(1);
  });

  it('asks again once the held token enters its expiry buffer', async () => {
    const s = setup([token('at-1'), token('at-2', 5000)]);
    await s.client.getToken();

    s.state.nowMs = START_MS + (2400 - 60) * 1000;
    const renewed = await s.client.getToken();

    expect(renewed.accessToken).toBe('at-2');
  });

  it('reports a rejected token by hash only and returns the fresh one', async () => {
    const s = setup([token('at-1'), token('at-2')]);
    await s.client.getToken();

    const fresh = await s.client.replaceRejected('at-1');

    expect(fresh.accessToken).toBe('at-2');
    expect(s.requests()[1]).toEqual({
      client: 'farfetch',
      scopes: ['stocks'],
      rejectedTokenHash: tokenHash('at-1'),
    });
    expect(JSON.stringify(s.requests())).not.toContain('at-1');
    expect((await s.client.getToken()).accessToken).toBe('at-2');
  });

  it('turns an error reply into a typed BrokerError', async () => {
    const s = setup([
      payload({ error: { code: 'invalid_client', message: 'refused', retryable: false } }),
    ]);

    const error = await s.client.getToken().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(BrokerError);
    expect(error).toMatchObject({ code: 'invalid_client', retryable: false, message: 'refused' });
  });

  it('turns a function error into a retryable broker_unavailable without its message', async () => {
    const s = setup([
      {
        StatusCode: 200,
        FunctionError: 'Unhandled',
        Payload: new TextEncoder().encode(
          JSON.stringify({ errorType: 'TypeError', errorMessage: 'internal detail' }),
        ),
      },
    ]);

    const error = (await s.client.getToken().catch((e: unknown) => e)) as BrokerError;

    expect(error).toMatchObject({ code: 'broker_unavailable', retryable: true });
    expect(error.message).toContain('TypeError');
    expect(error.message).not.toContain('internal detail');
  });

  it('never caches a failure', async () => {
    const s = setup([
      payload({ error: { code: 'token_endpoint_unavailable', message: 'x', retryable: true } }),
      token('at-1'),
    ]);

    await s.client.getToken().catch(() => undefined);
    const next = await s.client.getToken();

    expect(next.accessToken).toBe('at-1');
  });

  it.each([{}, { accessToken: '' }, { accessToken: 'at', expiresAt: 'soon' }])(
    'refuses a malformed reply %j',
    async (reply) => {
      const s = setup([payload(reply)]);

      await expect(s.client.getToken()).rejects.toMatchObject({ code: 'broker_unavailable' });
    },
  );
});
