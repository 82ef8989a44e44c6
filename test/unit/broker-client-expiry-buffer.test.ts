/*
 * A caller keeps a token in memory only until the token's own expiry buffer,
 * sized from its granted lifetime as the broker sizes it, even when the
 * broker served it late in its life: the reply that triggers a background
 * renewal carries the old token with little left.
 */
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import { TokenBroker } from '../../shared/broker.js';
import { BrokerClient } from '../../shared/broker-client.js';
import type { ClientProfileStore } from '../../shared/client-profile-store.js';
import { isServable } from '../../shared/expiry.js';
import type { TokenEndpointClient } from '../../shared/token-endpoint.js';
import type { TokenGrant } from '../../shared/token-grant.js';
import { FakeTokenTable } from '../helpers/fake-token-table.js';
import { LogRecorder } from '../helpers/log-recorder.js';

const LIFETIME_SECS = 3600;
const START_MS = 1_800_000_000_000;

describe('a caller served the token whose renewal it triggered', () => {
  it("stops serving it from memory at the token's expiry buffer", async () => {
    let nowMs = START_MS;
    let issued = 0;
    const profile = {
      clientId: 'c',
      clientSecret: 's',
      tokenUrl: 'https://sts.example.test/token',
      scopes: ['stocks'],
      authMethod: 'client_secret_post',
    };
    const broker = new TokenBroker({
      profiles: {
        get: async () => ({ profile, versionId: 'v1', secretName: 'x' }),
      } as unknown as ClientProfileStore,
      tokenEndpoint: {
        requestToken: async (): Promise<TokenGrant> => ({
          accessToken: `at-${++issued}`,
          tokenType: 'Bearer',
          lifetimeSecs: LIFETIME_SECS,
          expiresAt: (nowMs + LIFETIME_SECS * 1000) / 1000,
          scope: 'stocks',
        }),
      } as unknown as TokenEndpointClient,
      tokens: new FakeTokenTable().asTokenTable(),
      log: new LogRecorder(),
      clock: () => nowMs,
      sleep: async (ms) => {
        nowMs += ms;
      },
      random: () => 0.5,
    });
    const lambda = {
      send: async (command: { input: { Payload: Uint8Array } }) => {
        const request = JSON.parse(Buffer.from(command.input.Payload).toString('utf8'));
        const reply = await broker.getToken(request);
        return { Payload: Buffer.from(JSON.stringify(reply)) };
      },
    } as unknown as LambdaClient;
    const caller = () =>
      new BrokerClient({
        lambda,
        functionName: 'broker',
        client: 'farfetch',
        log: new LogRecorder(),
        clock: () => nowMs,
      });

    await caller().getToken(); // at-1, expires at START + 3600 s
    nowMs = START_MS + (LIFETIME_SECS - 240) * 1000; // at-1 falls due for renewal (60 s + 180 s)
    const stockSync = caller();
    const first = await stockSync.getToken();
    await broker.settled(); // the broker renewed in the background: at-2 is stored
    expect(first.accessToken).toBe('at-1');
    expect(issued).toBe(2);

    nowMs = START_MS + (LIFETIME_SECS - 30) * 1000; // 30 s left: inside at-1's 60 s buffer
    const later = await stockSync.getToken();

    expect(later.accessToken).toBe('at-2');
    expect(later.source).not.toBe('caller_memory');
    expect(isServable({ expiresAt: later.expiresAt, lifetimeSecs: LIFETIME_SECS }, nowMs)).toBe(
      true,
    );
  });
});
