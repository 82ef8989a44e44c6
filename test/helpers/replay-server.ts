/**
 * A token server that replays a script: one scripted exchange per request, in
 * order, over real HTTP on 127.0.0.1, so the real `fetch` and its failure
 * modes (dropped connections, cut bodies, chunked replies, slow answers) are
 * exercised. Every request is recorded; a request beyond the script is
 * answered with 500 and recorded as a failure the test can assert on.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

import { listenOnFreePort, stopServer } from '../../local/free-port.js';

/** One scripted answer. */
export interface ReplayExchange {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Real milliseconds to wait before answering. */
  delayMs?: number;
  /** Cut the connection before any header is sent, or after half the body. */
  destroy?: 'before-headers' | 'mid-body';
  /** Send the body with `Transfer-Encoding: chunked`, in several pieces. */
  chunked?: boolean;
}

/** A request as the server received it. */
export interface ReplayedRequest {
  method: string;
  path: string;
  /** Lower-case header names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  rawBody: string;
}

export interface ReplayServer {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  url: string;
  readonly requests: readonly ReplayedRequest[];
  /** One line per request that arrived after the script ran out. */
  readonly unexpected: readonly string[];
  /** Exchanges not yet replayed. */
  remaining(): number;
  stop(): Promise<void>;
}

const CHUNK_COUNT = 3;

/** Starts a replay server on a free loopback port. */
export async function startReplayServer(script: readonly ReplayExchange[]): Promise<ReplayServer> {
  const queue = [...script];
  const requests: ReplayedRequest[] = [];
  const unexpected: string[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawBody = await readBody(req);
    requests.push({
      method: req.method ?? '',
      path: req.url ?? '',
      headers: flattenHeaders(req),
      rawBody,
    });

    const exchange = queue.shift();
    if (!exchange) {
      unexpected.push(`request ${requests.length} (${req.method} ${req.url}) is beyond the script`);
      res.writeHead(500, { 'content-type': 'text/plain' }).end('replay script exhausted');
      return;
    }
    if (exchange.delayMs) await wait(exchange.delayMs);
    answer(req, res, exchange);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      unexpected.push(`replay server failed: ${String(error)}`);
      res.destroy();
    });
  });
  const { url } = await listenOnFreePort(server);

  return {
    url,
    requests,
    unexpected,
    remaining: () => queue.length,
    stop: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await stopServer(server);
    },
  };
}

function answer(req: IncomingMessage, res: ServerResponse, exchange: ReplayExchange): void {
  const body = Buffer.from(exchange.body ?? '', 'utf8');
  const headers = { ...exchange.headers };

  if (exchange.destroy === 'before-headers') {
    req.socket.destroy();
    return;
  }
  if (exchange.destroy === 'mid-body') {
    // Content-Length promises the whole body; the socket dies after half.
    res.writeHead(exchange.status, { ...headers, 'content-length': String(body.length) });
    res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
    return;
  }
  if (exchange.chunked) {
    res.writeHead(exchange.status, { ...headers, 'transfer-encoding': 'chunked' });
    const size = Math.ceil(body.length / CHUNK_COUNT) || 1;
    for (let start = 0; start < body.length; start += size) {
      res.write(body.subarray(start, start + size));
    }
    res.end();
    return;
  }
  res.writeHead(exchange.status, { ...headers, 'content-length': String(body.length) });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}
