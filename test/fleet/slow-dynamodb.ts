/**
 * A pass-through HTTP proxy in front of the local DynamoDB that holds back
 * chosen operations, as a slow network path or a paused environment would.
 * It lets a test put one environment's write late, after another
 * environment's whole fetch, to probe races between read and conditional
 * write. It listens on 127.0.0.1 and forwards only to the target it is given.
 */
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { listenOnFreePort, stopServer } from '../../local/free-port.js';

export interface SlowDynamoDb {
  /** `http://127.0.0.1:<port>`, to use as a worker's DynamoDB endpoint. */
  endpoint: string;
  /** Requests held back so far, by operation. */
  delayed(): Record<string, number>;
  stop(): Promise<void>;
}

export interface SlowDynamoDbOptions {
  /** `http://127.0.0.1:<port>` of the real local DynamoDB. */
  target: string;
  /** Operation (e.g. `UpdateItem`) → how long to hold it back. */
  delaysMs: Record<string, number>;
  /** Hold back only the first this many requests of each operation; default 1. */
  times?: number;
}

export async function startSlowDynamoDb(options: SlowDynamoDbOptions): Promise<SlowDynamoDb> {
  const target = new URL(options.target);
  const delayed: Record<string, number> = {};
  const times = options.times ?? 1;

  const server = createServer((req, res) => {
    const operation = operationOf(req);
    const delayMs = options.delaysMs[operation];
    const held = delayMs !== undefined && (delayed[operation] ?? 0) < times;
    if (held) delayed[operation] = (delayed[operation] ?? 0) + 1;

    const forward = () => {
      const upstream = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (reply) => {
          res.writeHead(reply.statusCode ?? 502, reply.headers);
          reply.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    };
    if (held) setTimeout(forward, delayMs);
    else forward();
  });
  const { url } = await listenOnFreePort(server);

  return { endpoint: url, delayed: () => ({ ...delayed }), stop: () => stopServer(server) };
}

/** `DynamoDB_20120810.UpdateItem` → `UpdateItem`. */
function operationOf(req: IncomingMessage): string {
  const target = req.headers['x-amz-target'];
  return typeof target === 'string' ? (target.split('.').pop() ?? '') : '';
}
