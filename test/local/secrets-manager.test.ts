import {
  CreateSecretCommand,
  DecryptionFailure,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InternalServiceError,
  InvalidParameterException,
  InvalidRequestException,
  ListSecretsCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startSecretsManager, type LocalSecretsManager } from '../../local/secrets-manager.js';

describe('startSecretsManager', () => {
  let secrets: LocalSecretsManager;
  let client: SecretsManagerClient;
  let counter = 0;

  beforeAll(async () => {
    secrets = await startSecretsManager();
    client = clientFor(secrets.endpoint, 1);
  });

  afterAll(async () => {
    client.destroy();
    await secrets.stop();
  });

  function clientFor(endpoint: string, maxAttempts: number) {
    return new SecretsManagerClient({
      endpoint,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts,
    });
  }

  /** A fresh secret name per test, so tests stay independent. */
  const uniqueName = (prefix = 'token-broker/test') => `${prefix}/secret-${(counter += 1)}`;

  const create = (name: string, value = '{"clientSecret":"v1"}') =>
    client.send(new CreateSecretCommand({ Name: name, SecretString: value }));

  it('listens on a loopback address only', () => {
    expect(secrets.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('creates a secret and returns it as AWSCURRENT by name and by ARN', async () => {
    const name = uniqueName();
    const created = await create(name);

    const byName = await client.send(new GetSecretValueCommand({ SecretId: name }));
    const byArn = await client.send(new GetSecretValueCommand({ SecretId: created.ARN }));

    expect(created.ARN).toMatch(
      new RegExp(`^arn:aws:secretsmanager:eu-west-1:\\d{12}:secret:${name}-[A-Za-z0-9]{6}$`),
    );
    expect(byName).toMatchObject({
      ARN: created.ARN,
      Name: name,
      VersionId: created.VersionId,
      SecretString: '{"clientSecret":"v1"}',
      VersionStages: ['AWSCURRENT'],
    });
    expect(byName.CreatedDate).toBeInstanceOf(Date);
    expect(byArn.SecretString).toBe(byName.SecretString);
  });

  it('uses ClientRequestToken as the VersionId', async () => {
    const created = await client.send(
      new CreateSecretCommand({
        Name: uniqueName(),
        SecretString: 'x',
        ClientRequestToken: 'a1b2c3d4-0000-4000-8000-000000000001',
      }),
    );

    expect(created.VersionId).toBe('a1b2c3d4-0000-4000-8000-000000000001');
  });

  it('round-trips a binary secret', async () => {
    const name = uniqueName();
    await client.send(
      new CreateSecretCommand({ Name: name, SecretBinary: new Uint8Array([0, 1, 254, 255]) }),
    );

    const value = await client.send(new GetSecretValueCommand({ SecretId: name }));

    expect(value.SecretString).toBeUndefined();
    expect([...(value.SecretBinary ?? [])]).toEqual([0, 1, 254, 255]);
  });

  it('refuses to create a secret that exists with ResourceExistsException', async () => {
    const name = uniqueName();
    await create(name);

    await expect(create(name)).rejects.toBeInstanceOf(ResourceExistsException);
  });

  it('throws ResourceNotFoundException for an unknown secret', async () => {
    const error = await client
      .send(new GetSecretValueCommand({ SecretId: 'no/such/secret' }))
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ResourceNotFoundException);
    expect((error as ResourceNotFoundException).$metadata.httpStatusCode).toBe(400);
  });

  it('moves AWSCURRENT to a new version and the old one to AWSPREVIOUS', async () => {
    const name = uniqueName();
    const v1 = await create(name, 'one');

    const v2 = await client.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'two' }),
    );
    const v3 = await client.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'three' }),
    );

    expect(v2.VersionStages).toEqual(['AWSCURRENT']);
    expect((await client.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe(
      'three',
    );
    const previous = await client.send(
      new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' }),
    );
    expect(previous).toMatchObject({
      VersionId: v2.VersionId,
      SecretString: 'two',
      VersionStages: ['AWSPREVIOUS'],
    });
    const described = await client.send(new DescribeSecretCommand({ SecretId: name }));
    expect(described.VersionIdsToStages).toEqual({
      [v2.VersionId!]: ['AWSPREVIOUS'],
      [v3.VersionId!]: ['AWSCURRENT'],
    });
    // The first version lost every label: it is deprecated but still readable by id.
    const first = await client.send(
      new GetSecretValueCommand({ SecretId: name, VersionId: v1.VersionId }),
    );
    expect(first).toMatchObject({ SecretString: 'one', VersionStages: [] });
  });

  it('attaches only the requested labels when PutSecretValue names VersionStages', async () => {
    const name = uniqueName();
    const v1 = await create(name, 'one');

    const pending = await client.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: 'two',
        VersionStages: ['AWSPENDING'],
      }),
    );

    expect((await client.send(new GetSecretValueCommand({ SecretId: name }))).VersionId).toBe(
      v1.VersionId,
    );
    const byStage = await client.send(
      new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPENDING' }),
    );
    expect(byStage).toMatchObject({ VersionId: pending.VersionId, SecretString: 'two' });
  });

  it('treats a repeated ClientRequestToken with the same value as the same version', async () => {
    const name = uniqueName();
    await create(name, 'one');
    const put = {
      SecretId: name,
      SecretString: 'two',
      ClientRequestToken: 'a1b2c3d4-0000-4000-8000-000000000002',
    };

    const first = await client.send(new PutSecretValueCommand(put));
    const again = await client.send(new PutSecretValueCommand(put));

    expect(again.VersionId).toBe(first.VersionId);
    await expect(
      client.send(new PutSecretValueCommand({ ...put, SecretString: 'different' })),
    ).rejects.toBeInstanceOf(ResourceExistsException);
  });

  it('throws ResourceNotFoundException for a stage no version carries', async () => {
    const name = uniqueName();
    await create(name);

    await expect(
      client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('moves AWSCURRENT back with UpdateSecretVersionStage', async () => {
    const name = uniqueName();
    const v1 = await create(name, 'one');
    const v2 = await client.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'two' }),
    );

    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: v1.VersionId,
        RemoveFromVersionId: v2.VersionId,
      }),
    );

    const described = await client.send(new DescribeSecretCommand({ SecretId: name }));
    expect(described.VersionIdsToStages).toEqual({
      [v1.VersionId!]: ['AWSCURRENT'],
      [v2.VersionId!]: ['AWSPREVIOUS'],
    });
  });

  it('refuses to move a label without naming the version that holds it', async () => {
    const name = uniqueName();
    const v1 = await create(name, 'one');
    await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'two' }));

    await expect(
      client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: v1.VersionId,
        }),
      ),
    ).rejects.toBeInstanceOf(InvalidParameterException);
  });

  it('describes a secret with its dates', async () => {
    const name = uniqueName();
    const created = await create(name);

    const described = await client.send(new DescribeSecretCommand({ SecretId: name }));

    expect(described).toMatchObject({ ARN: created.ARN, Name: name });
    expect(described.CreatedDate).toBeInstanceOf(Date);
    expect(described.LastChangedDate).toBeInstanceOf(Date);
    expect(described.LastRotatedDate).toBeUndefined();
  });

  it('lists secrets filtered by name prefix, with negation and paging', async () => {
    const prefix = `list-test-${(counter += 1)}`;
    await create(`${prefix}/a`);
    await create(`${prefix}/b`);
    await create(`${prefix}-other/c`);

    const listed = await client.send(
      new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [`${prefix}/`] }] }),
    );
    const negated = await client.send(
      new ListSecretsCommand({
        Filters: [
          { Key: 'name', Values: [prefix] },
          { Key: 'name', Values: [`!${prefix}/`] },
        ],
      }),
    );
    const firstPage = await client.send(
      new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [prefix] }], MaxResults: 2 }),
    );
    const secondPage = await client.send(
      new ListSecretsCommand({
        Filters: [{ Key: 'name', Values: [prefix] }],
        MaxResults: 2,
        NextToken: firstPage.NextToken,
      }),
    );

    expect(listed.SecretList?.map((s) => s.Name)).toEqual([`${prefix}/a`, `${prefix}/b`]);
    expect(listed.SecretList?.[0]?.SecretVersionsToStages).toBeDefined();
    expect(negated.SecretList?.map((s) => s.Name)).toEqual([`${prefix}-other/c`]);
    expect(firstPage.SecretList).toHaveLength(2);
    expect(secondPage.SecretList).toHaveLength(1);
    expect(secondPage.NextToken).toBeUndefined();
  });

  it('keeps a deleted secret for recovery but refuses to read it', async () => {
    const name = uniqueName();
    await create(name);

    const deleted = await client.send(
      new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }),
    );

    expect(deleted.DeletionDate).toBeInstanceOf(Date);
    await expect(client.send(new GetSecretValueCommand({ SecretId: name }))).rejects.toBeInstanceOf(
      InvalidRequestException,
    );
    expect(
      (await client.send(new DescribeSecretCommand({ SecretId: name }))).DeletedDate,
    ).toBeInstanceOf(Date);
  });

  it('forgets a secret deleted with ForceDeleteWithoutRecovery', async () => {
    const name = uniqueName();
    await create(name);

    await client.send(
      new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }),
    );

    await expect(client.send(new DescribeSecretCommand({ SecretId: name }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    await expect(create(name)).resolves.toBeDefined();
  });

  it('answers an unknown operation with UnknownOperationException', async () => {
    const response = await fetch(secrets.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'secretsmanager.RotateSecret',
      },
      body: '{}',
    });

    expect(response.status).toBe(400);
    expect(response.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    expect(await response.json()).toMatchObject({ __type: 'UnknownOperationException' });
  });

  it('fails the next calls with an injected DecryptionFailure, then recovers', async () => {
    const name = uniqueName();
    await create(name);
    secrets.failNext('GetSecretValue', 'DecryptionFailure', 2);

    const first = await client
      .send(new GetSecretValueCommand({ SecretId: name }))
      .catch((e: unknown) => e);
    const second = await client
      .send(new GetSecretValueCommand({ SecretId: name }))
      .catch((e: unknown) => e);
    const third = await client.send(new GetSecretValueCommand({ SecretId: name }));

    expect(first).toBeInstanceOf(DecryptionFailure);
    expect(second).toBeInstanceOf(DecryptionFailure);
    expect(third.SecretString).toBeDefined();
  });

  it('delivers injected InternalServiceError and AccessDeniedException as SDK exceptions', async () => {
    secrets.failNext('DescribeSecret', 'InternalServiceError');
    const internal = await client
      .send(new DescribeSecretCommand({ SecretId: 'x' }))
      .catch((e: unknown) => e);
    secrets.failNext('DescribeSecret', 'AccessDeniedException');
    const denied = await client
      .send(new DescribeSecretCommand({ SecretId: 'x' }))
      .catch((e: unknown) => e);

    expect(internal).toBeInstanceOf(InternalServiceError);
    expect(denied).toBeInstanceOf(SecretsManagerServiceException);
    expect((denied as Error).name).toBe('AccessDeniedException');
  });

  it('makes the SDK treat an injected ThrottlingException as throttling and retry it', async () => {
    const name = uniqueName();
    await create(name);
    const retrying = clientFor(secrets.endpoint, 2);
    secrets.failNext('GetSecretValue', 'ThrottlingException');
    const before = secrets.stats().calls.GetSecretValue ?? 0;

    const value = await retrying.send(new GetSecretValueCommand({ SecretId: name }));
    retrying.destroy();

    expect(value.$metadata.attempts).toBe(2);
    expect(secrets.stats().calls.GetSecretValue).toBe(before + 2);
  });

  it('does not make the SDK retry an injected AccessDeniedException', async () => {
    const retrying = clientFor(secrets.endpoint, 3);
    secrets.failNext('GetSecretValue', 'AccessDeniedException');
    const before = secrets.stats().calls.GetSecretValue ?? 0;

    const error = await retrying
      .send(new GetSecretValueCommand({ SecretId: 'whatever' }))
      .catch((e: unknown) => e);
    retrying.destroy();

    expect((error as Error).name).toBe('AccessDeniedException');
    expect(secrets.stats().calls.GetSecretValue).toBe(before + 1);
  });

  it('surfaces ThrottlingException by name when retries are off', async () => {
    secrets.failNext('ListSecrets', 'ThrottlingException');

    const error = await client.send(new ListSecretsCommand({})).catch((e: unknown) => e);

    expect((error as Error).name).toBe('ThrottlingException');
    expect((error as SecretsManagerServiceException).$metadata.attempts).toBe(1);
  });

  it('refuses to inject a fault into an operation it does not serve', () => {
    // @ts-expect-error RotateSecret is not implemented by the stand-in
    expect(() => secrets.failNext('RotateSecret', 'ThrottlingException')).toThrow(RangeError);
  });
});
