import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../ops/errors.js';
import { resolveTarget, useLocalStack } from '../../../ops/target.js';

const STACK_LINE = JSON.stringify({
  region: 'eu-west-1',
  endpoints: {
    lambda: 'http://127.0.0.1:40001',
    dynamodb: 'http://127.0.0.1:40002',
    secretsManager: 'http://127.0.0.1:40003',
    tokenUrl: 'http://127.0.0.1:40004/connect/token',
  },
  secretPrefix: 'token-broker/clients/',
});

describe('useLocalStack', () => {
  it('sets the standard endpoint variables, dummy credentials and no metadata lookup', () => {
    const env: NodeJS.ProcessEnv = { AWS_PROFILE: 'prod', AWS_SESSION_TOKEN: 'real' };

    const local = useLocalStack(`starting…\n${STACK_LINE}\n`, env);

    expect(local).toEqual({ region: 'eu-west-1', secretPrefix: 'token-broker/clients/' });
    expect(env).toEqual({
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:40002',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:40003',
      AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:40001',
      AWS_ACCESS_KEY_ID: 'local-stack',
      AWS_SECRET_ACCESS_KEY: 'local-stack',
      AWS_REGION: 'eu-west-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
  });

  it('refuses an endpoint that is not on 127.0.0.1', () => {
    const line = STACK_LINE.replace(
      'http://127.0.0.1:40002',
      'https://dynamodb.eu-west-1.amazonaws.com',
    );

    expect(() => useLocalStack(line, {})).toThrow(
      new UsageError('--local: endpoints.dynamodb must be an http URL on 127.0.0.1'),
    );
  });

  it('refuses text without the endpoints line', () => {
    expect(() => useLocalStack('{"hello":1}\n', {})).toThrow(/no JSON line with "endpoints"/);
  });
});

describe('resolveTarget', () => {
  it('derives table and function names from the stage, default dev', async () => {
    const target = await resolveTarget({ json: false }, async () => '');

    expect(target).toEqual({
      stage: 'dev',
      secretPrefix: 'token-broker/clients/',
      tables: {
        tokens: 'token-broker-dev-tokens',
        stocks: 'token-broker-dev-stocks',
        syncRuns: 'token-broker-dev-sync-runs',
      },
      stockSyncFunction: 'token-broker-dev-stockSync',
    });
  });

  it('keeps an explicit stage, region and prefix', async () => {
    const target = await resolveTarget(
      { json: false, stage: 'prod', region: 'us-east-1', secretPrefix: 'x/' },
      async () => '',
    );

    expect(target).toMatchObject({
      stage: 'prod',
      region: 'us-east-1',
      secretPrefix: 'x/',
      stockSyncFunction: 'token-broker-prod-stockSync',
    });
  });
});
