/**
 * Small HTTP helpers the local-server tests share: form posts with the two
 * client authentication methods of RFC 6749 §2.3.1, and a token request.
 */

export interface FormReply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** HTTP Basic credentials, form-encoded first as RFC 6749 §2.3.1 asks. */
export function basicAuth(clientId: string, clientSecret: string): Record<string, string> {
  const pair = `${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`;
  return { authorization: `Basic ${Buffer.from(pair).toString('base64')}` };
}

export async function postForm(
  url: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<FormReply> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}

/** Client credentials grant with `client_secret_post`; returns the access token. */
export async function requestAccessToken(
  tokenUrl: string,
  clientId: string,
  clientSecret: string,
  scope = 'stocks',
): Promise<string> {
  const reply = await postForm(tokenUrl, {
    grant_type: 'client_credentials',
    client_id: clientId,
    client_secret: clientSecret,
    scope,
  });
  if (reply.status !== 200 || typeof reply.body.access_token !== 'string') {
    throw new Error(`token request for ${clientId} answered ${reply.status}`);
  }
  return reply.body.access_token;
}
