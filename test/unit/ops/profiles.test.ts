import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../ops/errors.js';
import { profileDocument, validatedProfile } from '../../../ops/profiles.js';

const TOKEN_URL = 'https://authbo.farfetch.net/connect/token';

describe('profileDocument', () => {
  it('builds the secret JSON from the options, scopes split on spaces or commas', () => {
    const document = profileDocument(
      { 'client-id': 'ff_amazing_client', 'token-url': TOKEN_URL, scopes: 'stocks, orders' },
      's3cret',
    );

    expect(document).toEqual({
      client_id: 'ff_amazing_client',
      token_url: TOKEN_URL,
      scopes: ['stocks', 'orders'],
      auth_method: 'client_secret_post',
      client_secret: 's3cret',
    });
  });

  it('stores the credential as private_key for private_key_jwt, with its key id and algorithm', () => {
    const document = profileDocument(
      {
        'client-id': 'c',
        'token-url': TOKEN_URL,
        'auth-method': 'private_key_jwt',
        'key-id': 'k1',
        'signing-alg': 'ES256',
      },
      'PEM',
    );

    expect(document).toMatchObject({ private_key: 'PEM', key_id: 'k1', signing_alg: 'ES256' });
    expect(document).not.toHaveProperty('client_secret');
  });

  it('asks for the required options by name', () => {
    expect(() => profileDocument({ 'token-url': TOKEN_URL }, 's')).toThrow(
      new UsageError('--client-id is required'),
    );
  });
});

describe('validatedProfile', () => {
  it('parses the document as the broker reads it', () => {
    const profile = validatedProfile(
      profileDocument({ 'client-id': 'c', 'token-url': TOKEN_URL, scopes: 'stocks' }, 's3cret'),
    );

    expect(profile).toMatchObject({ clientId: 'c', tokenUrl: TOKEN_URL, scopes: ['stocks'] });
  });

  it.each([
    ['http://example.com/token', 'token_url: must use https'],
    ['https://user:pw@example.com/token', 'token_url: must not embed credentials'],
  ])('refuses the token URL %s as a usage error', (tokenUrl, message) => {
    const document = profileDocument({ 'client-id': 'c', 'token-url': tokenUrl }, 's3cret');

    expect(() => validatedProfile(document)).toThrow(`invalid profile: ${message}`);
  });

  it('names a bad scope by its position, never echoing the secret', () => {
    const document = profileDocument(
      { 'client-id': 'c', 'token-url': TOKEN_URL, scopes: 'stocks "bad"' },
      'never-shown-secret',
    );

    expect(() => validatedProfile(document)).toThrow(/scopes\[1\]/);
    try {
      validatedProfile(document);
    } catch (error) {
      expect((error as Error).message).not.toContain('never-shown-secret');
    }
  });
});
