/** The daemon's localhost HTTP endpoint: /healthz, /metrics (Prometheus text), /nodes (JSON). */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';

export interface HttpSources {
  health(): { ok: boolean; [k: string]: unknown };
  metrics(): string;
  nodes(): unknown;
  discovered(): unknown;
  /** Further routes (the status page, see status-page/); true when handled. */
  routes?(req: IncomingMessage, res: ServerResponse, url: string): boolean;
}

export interface HttpEndpoint {
  address(): AddressInfo;
  close(): Promise<void>;
}

export async function startHttp(
  listen: { address: string; port: number },
  src: HttpSources,
  logger?: Logger,
): Promise<HttpEndpoint> {
  const server: Server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0] ?? '/';
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    try {
      if (src.routes?.(req, res, url)) return;
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return send(405, 'text/plain', 'method not allowed\n');
      switch (url) {
        case '/healthz': {
          const h = src.health();
          return send(h.ok ? 200 : 503, 'application/json', `${JSON.stringify(h)}\n`);
        }
        case '/metrics':
          return send(200, 'text/plain; version=0.0.4; charset=utf-8', src.metrics());
        case '/nodes':
          return send(200, 'application/json', `${JSON.stringify(src.nodes(), null, 2)}\n`);
        case '/discovered':
          return send(200, 'application/json', `${JSON.stringify(src.discovered(), null, 2)}\n`);
        default:
          return send(404, 'text/plain', 'not found: try /healthz, /metrics, /nodes, /discovered\n');
      }
    } catch (e) {
      logger?.error({ err: e, url }, 'http handler failed');
      return send(500, 'text/plain', 'internal error\n');
    }
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    address: () => server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
