/**
 * A scripted `fetch` for unit tests: it answers with the replies it was given,
 * in order, records every request, and throws on a request beyond the script.
 */
export interface ScriptedReply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Reject the request instead of answering, as a dropped connection would. */
  fail?: Error;
}

export interface RecordedRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
}

export function scriptedFetch(replies: ScriptedReply[]) {
  const requests: RecordedRequest[] = [];
  const queue = [...replies];

  const fetchImpl = async (input: string | URL | Request, init: RequestInit = {}) => {
    requests.push({
      url: String(input),
      method: init.method ?? 'GET',
      headers: Object.fromEntries(new Headers(init.headers).entries()),
      body: typeof init.body === 'string' ? init.body : '',
    });
    const next = queue.shift();
    if (!next) throw new Error(`unexpected request ${requests.length} to ${String(input)}`);
    if (next.fail) throw next.fail;
    const body = typeof next.body === 'string' ? next.body : JSON.stringify(next.body ?? {});
    return new Response(body, { status: next.status ?? 200, headers: next.headers ?? {} });
  };

  return { fetch: fetchImpl as typeof fetch, requests, remaining: () => queue.length };
}
