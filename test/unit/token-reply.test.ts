import { describe, expect, it } from 'vitest';
import {
  classifyTokenReply,
  parseRetryAfter,
  type RawTokenReply,
  type ReplyContext,
} from '../../shared/token-reply.js';

const SECRET = 'cs-Sup3r+Secret/Value=';
const SENT_AT_MS = 1_800_000_000_000;

const context: ReplyContext = {
  sentAtMs: SENT_AT_MS,
  receivedAtMs: SENT_AT_MS,
  requestedScope: 'stocks',
  defaultLifetimeSecs: 300,
  maxLifetimeSecs: 86_400,
  secrets: [SECRET],
};

function reply(status: number, body: unknown, headers: Record<string, string> = {}): RawTokenReply {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return { status, headers: new Headers(headers), body: text };
}

describe('classifyTokenReply', () => {
  it('accepts a textbook reply and computes expiry from the send time', () => {
    const outcome = classifyTokenReply(
      reply(200, { access_token: 'at-1', token_type: 'Bearer', expires_in: 2400, scope: 'stocks' }),
      context,
    );

    expect(outcome).toEqual({
      kind: 'token',
      grant: {
        accessToken: 'at-1',
        tokenType: 'Bearer',
        lifetimeSecs: 2400,
        expiresAt: SENT_AT_MS / 1000 + 2400,
        scope: 'stocks',
      },
    });
  });

  it('keeps the expiry to the millisecond of the send time', () => {
    const outcome = classifyTokenReply(
      reply(200, { access_token: 'at-1', token_type: 'Bearer', expires_in: 4 }),
      { ...context, sentAtMs: SENT_AT_MS + 999 },
    );

    expect(outcome).toMatchObject({ grant: { expiresAt: SENT_AT_MS / 1000 + 4.999 } });
  });

  it('accepts expires_in as a digit string and ignores vendor fields', () => {
    const outcome = classifyTokenReply(
      reply(200, {
        token_type: 'Bearer',
        expires_in: '3599',
        ext_expires_in: '3599',
        expires_on: '1800003599',
        access_token: 'at-2',
        refresh_expires_in: 0,
        'not-before-policy': 0,
        session_state: 'x',
      }),
      context,
    );

    expect(outcome.kind === 'token' && outcome.grant.lifetimeSecs).toBe(3599);
  });

  it.each(['3599abc', '', ' ', true, {}, [], '-1', '1e3'])(
    'refuses expires_in %j as an invalid reply',
    (value) => {
      const outcome = classifyTokenReply(
        reply(200, { access_token: 'at', token_type: 'Bearer', expires_in: value }),
        context,
      );

      expect(outcome.kind).toBe('refused');
      expect(outcome.kind === 'refused' && outcome.error.code).toBe('invalid_token_reply');
      expect(outcome.kind === 'refused' && outcome.error.message).toContain('expires_in');
    },
  );

  it.each([0, -3600, 0.4])('refuses expires_in %j rather than reading it as no expiry', (value) => {
    const outcome = classifyTokenReply(
      reply(200, { access_token: 'at', token_type: 'Bearer', expires_in: value }),
      context,
    );

    expect(outcome.kind === 'refused' && outcome.error.code).toBe('invalid_token_reply');
  });

  it.each([undefined, null])(
    'uses the configured default lifetime when expires_in is %j',
    (value) => {
      const outcome = classifyTokenReply(
        reply(200, { access_token: 'at', token_type: 'Bearer', expires_in: value, issued_at: '1' }),
        context,
      );

      expect(outcome.kind === 'token' && outcome.grant.lifetimeSecs).toBe(300);
    },
  );

  it('caps a huge lifetime at the configured maximum', () => {
    const outcome = classifyTokenReply(
      reply(200, { access_token: 'at', token_type: 'Bearer', expires_in: 10 ** 11 }),
      context,
    );

    expect(outcome.kind === 'token' && outcome.grant.lifetimeSecs).toBe(86_400);
  });

  it.each(['bearer', 'BEARER', 'Bearer'])(
    'accepts token_type %s and always says Bearer',
    (type) => {
      const outcome = classifyTokenReply(
        reply(200, { access_token: 'at', token_type: type, expires_in: 60 }),
        context,
      );

      expect(outcome.kind === 'token' && outcome.grant.tokenType).toBe('Bearer');
    },
  );

  it.each([
    [{ access_token: '', token_type: '' }, 'access_token'],
    [{ access_token: 'at', token_type: '' }, 'token_type'],
    [{ access_token: 'at', token_type: 'DPoP' }, 'token_type'],
    [{ access_token: 'at', token_type: 'N_A' }, 'token_type'],
    [{ token_type: 'Bearer' }, 'access_token'],
    [{ access_token: 42, token_type: 'Bearer' }, 'access_token'],
  ])('refuses %j as an invalid reply naming %s', (body, field) => {
    const outcome = classifyTokenReply(reply(200, body), context);

    expect(outcome.kind === 'refused' && outcome.error.code).toBe('invalid_token_reply');
    expect(outcome.kind === 'refused' && outcome.error.message).toContain(field);
  });

  it('keeps the granted scope when the server narrows it', () => {
    const outcome = classifyTokenReply(
      reply(200, { access_token: 'at', token_type: 'Bearer', expires_in: 60, scope: 'read:a' }),
      { ...context, requestedScope: 'read:a write:b' },
    );

    expect(outcome.kind === 'token' && outcome.grant.scope).toBe('read:a');
  });

  it('takes the requested scope when the reply omits it (RFC 6749 §5.1)', () => {
    const outcome = classifyTokenReply(
      reply(200, { access_token: 'at', token_type: 'Bearer', expires_in: 60 }),
      context,
    );

    expect(outcome.kind === 'token' && outcome.grant.scope).toBe('stocks');
  });

  it.each([
    [400, 'invalid_client'],
    [400, 'invalid_scope'],
    [400, 'invalid_request'],
    [400, 'unauthorized_client'],
    [400, 'unsupported_grant_type'],
    [403, 'access_denied'],
    [401, 'invalid_client'],
    [200, 'invalid_client'],
  ])('maps HTTP %i with error %s to a typed, non-retryable refusal', (status, code) => {
    const outcome = classifyTokenReply(reply(status, { error: code }), context);

    expect(outcome.kind).toBe('refused');
    expect(outcome.kind === 'refused' && outcome.error.code).toBe(code);
    expect(outcome.kind === 'refused' && outcome.error.retryable).toBe(false);
  });

  it('maps an unknown error code to token_request_refused', () => {
    const outcome = classifyTokenReply(reply(400, { error: 'vendor_specific' }), context);

    expect(outcome.kind === 'refused' && outcome.error.code).toBe('token_request_refused');
  });

  it('treats a 401 with WWW-Authenticate Basic and no JSON as invalid_client', () => {
    const outcome = classifyTokenReply(
      reply(401, 'Unauthorized: trace 0af7651916cd43dd8448eb211c80319c', {
        'www-authenticate': 'Basic realm="sts"',
      }),
      context,
    );

    expect(outcome.kind === 'refused' && outcome.error.code).toBe('invalid_client');
  });

  it('keeps a trimmed description and removes an echoed secret from it', () => {
    const outcome = classifyTokenReply(
      reply(400, {
        error: 'unauthorized_client',
        error_description: `Invalid client or Invalid client credentials ${SECRET}\n${'x'.repeat(500)}`,
      }),
      context,
    );

    const message = outcome.kind === 'refused' ? outcome.error.message : '';
    expect(message).toContain('Invalid client or Invalid client credentials');
    expect(message).not.toContain(SECRET);
    expect(message).not.toContain('\n');
    expect(message.length).toBeLessThan(320);
  });

  it('classifies a proxy 502 HTML page as retryable without quoting the page', () => {
    const page = '<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>';
    const outcome = classifyTokenReply(reply(502, page, { 'content-type': 'text/html' }), context);

    expect(outcome).toMatchObject({ kind: 'retry', status: 502 });
  });

  it('classifies a 403 HTML challenge page as transient, not as bad credentials', () => {
    const outcome = classifyTokenReply(
      reply(403, '<!DOCTYPE html><html><body>Checking your browser</body></html>', {
        'content-type': 'text/html',
      }),
      context,
    );

    expect(outcome.kind).toBe('retry');
  });

  it.each([
    [{ 'retry-after': '60', 'content-type': 'text/plain' }, 'Too Many Requests', 60_000],
    [{ 'retry-after': '2026' }, '{"message":"slow down"}', 2_026_000],
  ])('reads a 429 as a rate limit with Retry-After (%j)', (headers, body, waitMs) => {
    const outcome = classifyTokenReply(reply(429, body, headers), context);

    expect(outcome).toEqual({
      kind: 'retry',
      status: 429,
      reason: expect.any(String),
      retryAfterMs: waitMs,
    });
  });

  it('reads a cut-short JSON body as transient', () => {
    const outcome = classifyTokenReply(reply(200, '{"access_token":"at","token_ty'), context);

    expect(outcome.kind).toBe('retry');
  });

  it('parses JSON by content even when the content type says otherwise', () => {
    const outcome = classifyTokenReply(
      reply(
        200,
        { access_token: 'at', token_type: 'bearer', expires_in: 10 },
        {
          'content-type': 'text/plain',
        },
      ),
      context,
    );

    expect(outcome.kind).toBe('token');
  });

  it('refuses to follow a redirect and says the token URL is wrong', () => {
    const outcome = classifyTokenReply(reply(302, '', { location: 'https://elsewhere' }), context);

    expect(outcome.kind === 'refused' && outcome.error.code).toBe('token_endpoint_unavailable');
    expect(outcome.kind === 'refused' && outcome.error.retryable).toBe(false);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-12-04T10:00:00Z');

  it('reads a bare number as seconds, never as a year', () => {
    expect(parseRetryAfter('2026', now)).toBe(2_026_000);
  });

  it('reads an HTTP date as the time left until it', () => {
    expect(parseRetryAfter('Fri, 04 Dec 2026 10:01:00 GMT', now)).toBe(60_000);
  });

  it('reads a date in the past as no wait', () => {
    expect(parseRetryAfter('Fri, 04 Dec 2026 09:00:00 GMT', now)).toBe(0);
  });

  it.each([null, '', 'soon', '-5', '1.5'])('ignores %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});
