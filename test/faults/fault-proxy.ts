/**
 * A loopback TCP proxy that puts a transport fault between a client and one
 * local server: the connection closed at once, a stall, a delay, a reset in
 * the middle of the reply, a reply cut short, or a canned reply in the
 * server's place. It works below HTTP, so what the client meets is what a
 * broken network or a dying server would show it.
 *
 * It listens on 127.0.0.1 at a port the kernel picks and forwards only to
 * the one loopback port it was given. A fault applies to connections
 * accepted after it is set; setting one closes every open connection, so a
 * client's pooled keep-alive connection cannot slip past it.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { LOOPBACK_HOST } from '../../local/free-port.js';

/** What the proxy does to each connection. */
export type ProxyFault =
  /** Forward both ways untouched. */
  | { kind: 'pass' }
  /** Accept, then close at once without reading or answering. */
  | { kind: 'close' }
  /** Accept and read, never answer. */
  | { kind: 'stall' }
  /** Hold the request back this long, then forward as usual. */
  | { kind: 'delay'; ms: number }
  /** Forward, then reset the connection (TCP RST) after this many reply bytes; default 0. */
  | { kind: 'reset'; afterReplyBytes?: number }
  /** Forward the reply's head and this many body bytes, then close normally (FIN). */
  | { kind: 'cut'; bodyBytes: number }
  /** Answer every request with these raw bytes (a whole HTTP reply) and close. */
  | { kind: 'answer'; reply: string };

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** Applies `fault` to connections accepted from now on and closes the open ones. */
  setFault(fault: ProxyFault): void;
  /** Connections accepted so far, whatever their fate. */
  connections(): number;
  stop(): Promise<void>;
}

export const PASS: ProxyFault = { kind: 'pass' };

const HEAD_END = Buffer.from('\r\n\r\n');

/** Starts a proxy to `127.0.0.1:<targetPort>` with `fault` (default: pass). */
export async function startFaultProxy(
  targetPort: number,
  fault: ProxyFault = PASS,
): Promise<FaultProxy> {
  let current = fault;
  let accepted = 0;
  const open = new Set<Socket>();
  const track = (socket: Socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    // A fault is expected to break connections; errors end them, nothing more.
    socket.on('error', () => socket.destroy());
  };
  const closeAll = () => {
    for (const socket of open) socket.destroy();
  };

  const server = createServer((client) => {
    accepted += 1;
    track(client);
    applyFault(client, current, targetPort, track);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK_HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${LOOPBACK_HOST}:${port}`,
    port,
    setFault: (next) => {
      current = next;
      closeAll();
    },
    connections: () => accepted,
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        closeAll();
      }),
  };
}

function applyFault(
  client: Socket,
  fault: ProxyFault,
  targetPort: number,
  track: (socket: Socket) => void,
): void {
  switch (fault.kind) {
    case 'close':
      client.destroy();
      return;
    case 'stall':
      client.resume();
      return;
    case 'answer':
      client.once('data', () => client.end(fault.reply));
      return;
    case 'delay':
      client.pause();
      setTimeout(() => {
        if (!client.destroyed) forward(client, fault, targetPort, track);
      }, fault.ms);
      return;
    default:
      forward(client, fault, targetPort, track);
  }
}

/** Pipes the request upstream and passes the reply back through `fault`'s filter. */
function forward(
  client: Socket,
  fault: ProxyFault,
  targetPort: number,
  track: (socket: Socket) => void,
): void {
  const upstream = connect(targetPort, LOOPBACK_HOST);
  track(upstream);
  client.pipe(upstream);
  client.resume();
  client.on('close', () => upstream.destroy());
  // After a normal end (or a cut), the client keeps what was written to it.
  upstream.on('close', () => {
    if (!client.writableEnded) client.destroy();
  });

  const deliver = replyFilter(client, upstream, fault);
  upstream.on('data', deliver);
  upstream.on('end', () => client.end());
}

/** What happens to each chunk of the server's reply on its way to the client. */
function replyFilter(client: Socket, upstream: Socket, fault: ProxyFault): (chunk: Buffer) => void {
  if (fault.kind === 'reset') {
    let budget = fault.afterReplyBytes ?? 0;
    return (chunk) => {
      const passed = chunk.subarray(0, Math.max(0, budget));
      budget -= passed.length;
      if (passed.length > 0) client.write(passed);
      if (budget <= 0) {
        upstream.destroy();
        client.resetAndDestroy();
      }
    };
  }
  if (fault.kind === 'cut') {
    let seen = Buffer.alloc(0);
    let sent = 0;
    return (chunk) => {
      seen = Buffer.concat([seen, chunk]);
      const headEnd = seen.indexOf(HEAD_END);
      if (headEnd < 0) return;
      const limit = headEnd + HEAD_END.length + fault.bodyBytes;
      client.write(seen.subarray(sent, Math.min(limit, seen.length)));
      sent = Math.min(limit, seen.length);
      if (seen.length >= limit) {
        upstream.destroy();
        client.end();
      }
    };
  }
  return (chunk) => void client.write(chunk);
}
