import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { ClientProfileStore } from '../../shared/client-profile-store.js';
import { BrokerError } from '../../shared/errors.js';
import { FakeAwsClient, serviceError } from '../helpers/fake-aws.js';
import { LogRecorder } from '../helpers/log-recorder.js';

const SECRET = 'cs-store-unit-secret';
const DOCUMENT = JSON.stringify({
  client_id: 'id',
  client_secret: SECRET,
  token_url: 'https://sts.example.test/token',
});

function setup(answers: (() => unknown)[]) {
  const state = { nowMs: 0 };
  const queue = [...answers];
  const secrets = new FakeAwsClient({
    GetSecretValueCommand: () => {
      const next = queue.shift();
      if (!next) throw new Error('unexpected GetSecretValue');
      return next();
    },
  });
  const log = new LogRecorder();
  const store = new ClientProfileStore(secrets.as<SecretsManagerClient>(), {
    prefix: 'token-broker/clients/',
    clock: () => state.nowMs,
    log,
  });
  return { store, secrets, state, log };
}

const current =
  (version = 'v1') =>
  () => ({ SecretString: DOCUMENT, VersionId: version });
const failing = (name: string) => () => {
  throw serviceError(name);
};

async function brokerError(promise: Promise<unknown>): Promise<BrokerError> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(BrokerError);
  expect((error as Error).message).not.toContain(SECRET);
  return error as BrokerError;
}

describe('ClientProfileStore', () => {
  it('reads AWSCURRENT under the prefix and keeps the profile for five minutes', async () => {
    const s = setup([current('v1'), current('v2')]);

    await s.store.get('farfetch');
    s.state.nowMs = 299_000;
    const cached = await s.store.get('farfetch');
    s.state.nowMs = 300_000;
    const reread = await s.store.get('farfetch');

    expect(cached.versionId).toBe('v1');
    expect(reread.versionId).toBe('v2');
    expect(s.secrets.calls[0]!.input).toEqual({
      SecretId: 'token-broker/clients/farfetch',
      VersionStage: 'AWSCURRENT',
    });
  });

  it('reads again past the cache when asked to', async () => {
    const s = setup([current('v1'), current('v2')]);
    await s.store.get('farfetch');

    const reread = await s.store.get('farfetch', { bypassCache: true });

    expect(reread.versionId).toBe('v2');
  });

  it('shares one read between concurrent lookups', async () => {
    const s = setup([current()]);

    await Promise.all([s.store.get('a'), s.store.get('a'), s.store.get('a')]);

    expect(s.secrets.count('GetSecretValueCommand')).toBe(1);
  });

  it('decodes SecretBinary', async () => {
    const s = setup([() => ({ SecretBinary: new TextEncoder().encode(DOCUMENT), VersionId: 'b' })]);

    expect((await s.store.get('farfetch')).profile.clientId).toBe('id');
  });

  it('reports a missing secret as unknown_client naming the secret', async () => {
    const s = setup([failing('ResourceNotFoundException')]);

    const error = await brokerError(s.store.get('ghost'));

    expect(error).toMatchObject({ code: 'unknown_client', retryable: false });
    expect(error.message).toContain('token-broker/clients/ghost');
  });

  it.each(['AccessDeniedException', 'DecryptionFailure'])(
    'reports %s as a permanent secret_unavailable',
    async (name) => {
      const s = setup([failing(name)]);

      const error = await brokerError(s.store.get('farfetch'));

      expect(error).toMatchObject({ code: 'secret_unavailable', retryable: false });
      expect(error.message).toContain(name);
    },
  );

  it('keeps serving the last good profile while Secrets Manager throttles', async () => {
    const s = setup([current('v1'), failing('ThrottlingException')]);
    await s.store.get('farfetch');
    s.state.nowMs = 600_000;

    const lookup = await s.store.get('farfetch');

    expect(lookup.versionId).toBe('v1');
    expect(s.log.messages('warn')).toContain('serving last good client profile');
  });

  it('reports throttling with nothing cached as retryable', async () => {
    const s = setup([failing('ThrottlingException')]);

    const error = await brokerError(s.store.get('farfetch'));

    expect(error).toMatchObject({ code: 'secret_unavailable', retryable: true });
  });

  it('names the field of an invalid profile document, never its value', async () => {
    const s = setup([
      () => ({ SecretString: JSON.stringify({ client_secret: SECRET }), VersionId: 'v' }),
    ]);

    const error = await brokerError(s.store.get('farfetch'));

    expect(error.code).toBe('invalid_profile');
    expect(error.message).toContain('client_id');
  });
});
