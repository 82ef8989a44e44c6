/** A short description of why a `fetch` call failed before any reply arrived. */
export function transportFailure(error: unknown): string {
  if (!(error instanceof Error)) return 'transport failure';
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'request timed out';
  const code = (error as { cause?: { code?: unknown } }).cause?.code;
  return typeof code === 'string' ? `transport failure ${code}` : `transport failure: ${error.message}`;
}
