import { describe, expect, it } from 'vitest';
import { isProfileName, parseClientProfile } from '../../shared/client-profile.js';
import { ValidationError } from '../../shared/errors.js';

const SECRET = 'cs-profile-unit-secret';
const valid = {
  client_id: 'ff_amazing_client',
  client_secret: SECRET,
  token_url: 'https://authbo.farfetch.net/connect/token',
  scopes: ['stocks'],
  auth_method: 'client_secret_post',
};

function parseError(document: unknown): ValidationError {
  try {
    parseClientProfile(typeof document === 'string' ? document : JSON.stringify(document));
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).not.toContain(SECRET);
    return error as ValidationError;
  }
  throw new Error('expected a validation error');
}

describe('parseClientProfile', () => {
  it('reads a complete profile', () => {
    expect(parseClientProfile(JSON.stringify(valid))).toEqual({
      clientId: 'ff_amazing_client',
      clientSecret: SECRET,
      tokenUrl: 'https://authbo.farfetch.net/connect/token',
      scopes: ['stocks'],
      authMethod: 'client_secret_post',
    });
  });

  it('defaults the auth method to client_secret_post and accepts a scope string', () => {
    const { auth_method: _omit, ...rest } = valid;

    const profile = parseClientProfile(JSON.stringify({ ...rest, scopes: 'b a  b' }));

    expect(profile.authMethod).toBe('client_secret_post');
    expect(profile.scopes).toEqual(['a', 'b']);
  });

  it.each([
    ['client_id', { client_id: undefined }],
    ['client_id', { client_id: '' }],
    ['client_secret', { client_secret: 42 }],
    ['token_url', { token_url: 'not a url' }],
    ['token_url', { token_url: 'http://sts.example.test/token' }],
    ['token_url', { token_url: 'https://user:pw@sts.example.test/token' }],
    ['token_url', { token_url: 'ftp://sts.example.test/token' }],
    ['auth_method', { auth_method: 'tls_client_auth' }],
    ['scopes', { scopes: 7 }],
    ['scopes[1]', { scopes: ['ok', 'bad"quote'] }],
    ['colour', { colour: 'blue' }],
  ])('names %s when it is wrong', (field, change) => {
    expect(parseError({ ...valid, ...change }).field).toBe(field);
  });

  it.each(['{', '[]', 'null', '"x"'])('refuses a document that is not a JSON object: %s', (doc) => {
    expect(parseError(doc).field).toBe('secret');
  });

  it('accepts http on loopback for the local stack', () => {
    const profile = parseClientProfile(
      JSON.stringify({ ...valid, token_url: 'http://127.0.0.1:4567/connect/token' }),
    );

    expect(profile.tokenUrl).toBe('http://127.0.0.1:4567/connect/token');
  });
});

describe('isProfileName', () => {
  it.each(['farfetch', 'ff_amazing-client', 'A1'])('accepts %s', (name) => {
    expect(isProfileName(name)).toBe(true);
  });

  it.each([
    '',
    '../other',
    'a/b',
    'arn:aws:secretsmanager:x',
    '*',
    'a*',
    '-x',
    'a b',
    'x'.repeat(65),
  ])('refuses %j, which could leave the secret prefix', (name) => {
    expect(isProfileName(name)).toBe(false);
  });
});
