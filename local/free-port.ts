/**
 * Every local stand-in listens on a port the kernel picks (port 0) on the
 * loopback address, so parallel runs never collide and nothing is reachable
 * from another host. Stopping must not hang on the keep-alive sockets that
 * the AWS SDK and `fetch` leave open, so idle connections are cut at once.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The only address a local server binds to. */
export const LOOPBACK_HOST = '127.0.0.1';

/** Where a server ended up listening. */
export interface ListeningAddress {
  port: number;
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  url: string;
}

/**
 * Starts `server` on 127.0.0.1 at a free port chosen by the kernel.
 * Rejects if the server fails to bind.
 */
export function listenOnFreePort(server: Server): Promise<ListeningAddress> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(0, LOOPBACK_HOST, () => {
      server.off('error', onError);
      const { port } = server.address() as AddressInfo;
      resolve({ port, url: `http://${LOOPBACK_HOST}:${port}` });
    });
  });
}

/**
 * Stops accepting connections, closes every open one (idle keep-alive
 * sockets included) and resolves once the server is closed. Stopping a
 * server that is not listening resolves too.
 */
export function stopServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();

  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}
