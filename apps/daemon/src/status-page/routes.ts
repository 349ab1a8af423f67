/**
 * brambled's fleet endpoints, mounted on its HTTP endpoint: the status page (/, /status.css,
 * /status.js), the fleet as JSON (/fleet) and live (/events, server-sent events), one node's boots
 * (/nodes/NAME/boots) and the "userspace up" report (POST /boot/up). Everything is read-only except
 * that report, which only marks a timestamp on the node whose serial and source address match.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { BootTimeline } from '../timeline/index.js';
import { STATUS_CSS, STATUS_HTML, STATUS_JS } from './page.js';
import type { FleetSnapshot } from './snapshot.js';

export interface FleetSources {
  timeline: BootTimeline;
  snapshot(): FleetSnapshot;
}

export interface FleetRoutes {
  /** Handle the request if it is one of ours; false leaves it to the caller. */
  handle(req: IncomingMessage, res: ServerResponse, url: string): boolean;
  close(): void;
}

/** Event-stream clients served at once; more get 503. */
const MAX_STREAMS = 64;
/** The largest "userspace up" body read. */
const MAX_REPORT_BYTES = 1024;
const SNAPSHOT_CHECK_MS = 1000;
const KEEPALIVE_MS = 15_000;

const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function send(res: ServerResponse, status: number, type: string, body: string): true {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
  return true;
}

const json = (res: ServerResponse, status: number, value: unknown) =>
  send(res, status, 'application/json', `${JSON.stringify(value, null, 2)}\n`);

/** `::ffff:127.0.0.1` -> `127.0.0.1` */
export function plainAddress(address: string | undefined): string {
  return (address ?? '').replace(/^::ffff:/, '');
}

/** The serial in a "userspace up" body: `serial=9ffefdef` or `{"serial":"9ffefdef"}`; the last 8 hex digits count. */
export function reportedSerial(body: string): string | undefined {
  let raw: unknown;
  const text = body.trim();
  if (text.startsWith('{')) {
    try {
      raw = (JSON.parse(text) as { serial?: unknown }).serial;
    } catch {
      return undefined;
    }
  } else raw = new URLSearchParams(text).get('serial');
  if (typeof raw !== 'string') return undefined;
  const digits = raw.trim().toLowerCase().replace(/^0x/, '');
  return /^[0-9a-f]{8,16}$/.test(digits) ? digits.slice(-8) : undefined;
}

export function fleetRoutes(src: FleetSources, logger?: Logger): FleetRoutes {
  const streams = new Set<ServerResponse>();
  let last = '';
  const broadcast = () => {
    if (streams.size === 0) return;
    const text = JSON.stringify(src.snapshot());
    if (text === last) return;
    last = text;
    for (const res of streams) res.write(`event: fleet\ndata: ${text}\n\n`);
  };
  let pending: NodeJS.Timeout | undefined;
  const onChange = () => {
    pending ??= setTimeout(() => {
      pending = undefined;
      broadcast();
    }, 50);
  };
  src.timeline.on('change', onChange);
  // Unknown Pis and stalls change without a timeline event: compare the snapshot every second.
  const poll = setInterval(broadcast, SNAPSHOT_CHECK_MS);
  poll.unref();
  const keepalive = setInterval(() => {
    for (const res of streams) res.write(': keepalive\n\n');
  }, KEEPALIVE_MS);
  keepalive.unref();

  const openStream = (req: IncomingMessage, res: ServerResponse): true => {
    if (streams.size >= MAX_STREAMS) return send(res, 503, 'text/plain', 'too many event streams\n');
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    const text = JSON.stringify(src.snapshot());
    res.write(`retry: 2000\nevent: fleet\ndata: ${text}\n\n`);
    streams.add(res);
    req.on('close', () => streams.delete(res));
    return true;
  };

  const userspaceUp = (req: IncomingMessage, res: ServerResponse): true => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REPORT_BYTES) tooBig = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooBig) return send(res, 413, 'text/plain', 'report too large\n');
      const serial = reportedSerial(Buffer.concat(chunks).toString('utf8'));
      if (!serial) return send(res, 400, 'text/plain', 'expected serial=<8-16 hex digits>\n');
      const address = plainAddress(req.socket.remoteAddress);
      const node = src.timeline.userspaceUp({ address, serial });
      if (!node) {
        logger?.warn(
          { event: 'userspace-up-unmatched', serial, address },
          'userspace-up report matched no node',
        );
        return send(res, 404, 'text/plain', 'no node with that serial at this address\n');
      }
      logger?.info({ event: 'userspace-up', node, address }, `${node}: userspace up`);
      return json(res, 200, { node });
    });
    return true;
  };

  return {
    handle(req, res, url) {
      if (req.method === 'POST' && url === '/boot/up') return userspaceUp(req, res);
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      if (url === '/' || url === '/index.html')
        return send(res, 200, 'text/html; charset=utf-8', STATUS_HTML);
      if (url === '/status.css') return send(res, 200, 'text/css; charset=utf-8', STATUS_CSS);
      if (url === '/status.js') return send(res, 200, 'text/javascript; charset=utf-8', STATUS_JS);
      if (url === '/fleet') return json(res, 200, src.snapshot());
      if (url === '/events') return openStream(req, res);
      const boots = /^\/nodes\/([^/]+)\/boots$/.exec(url);
      if (boots) {
        let name = '';
        try {
          name = decodeURIComponent(boots[1] ?? '');
        } catch {
          return send(res, 400, 'text/plain', 'bad node name\n');
        }
        const list = HOSTNAME.test(name) ? src.timeline.boots(name) : undefined;
        if (!list) return send(res, 404, 'text/plain', `no node '${name.slice(0, 64)}'\n`);
        return json(res, 200, list);
      }
      return false;
    },
    close() {
      src.timeline.off('change', onChange);
      if (pending) clearTimeout(pending);
      clearInterval(poll);
      clearInterval(keepalive);
      for (const res of streams) res.end();
      streams.clear();
    },
  };
}
