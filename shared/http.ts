/** Small pieces of HTTP client hygiene shared by the token and stocks clients. */

/** A short description of why a `fetch` call failed before any reply arrived. */
export function transportFailure(error: unknown): string {
  if (!(error instanceof Error)) return 'transport failure';
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'request timed out';
  if (error instanceof ReplyTooLargeError) return error.message;
  const code = (error as { cause?: { code?: unknown } }).cause?.code;
  // The message itself is not repeated: a failure to build a request can
  // quote a header value, and the Authorization header holds a credential.
  return typeof code === 'string'
    ? `transport failure ${code}`
    : `transport failure (${error.name})`;
}

/** Reads at most `maxBytes` of the body; a larger reply is cut and marked. */
export async function readBounded(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      await response.body.cancel().catch(() => undefined);
      throw new ReplyTooLargeError(maxBytes);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A reply body beyond the size a client is willing to read. */
export class ReplyTooLargeError extends Error {
  override readonly name = 'ReplyTooLargeError';

  constructor(maxBytes: number) {
    super(`reply larger than ${maxBytes} bytes`);
  }
}
