/**
 * Raw UDP attackers for the security tests and the attack benchmark: clients that open transfers and then
 * stall, and spoofed-style request floods from many loopback addresses that never answer.
 */
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { encode, Opcode } from '../../src/index.js';

/** Peak and current resident memory of a process, in bytes (from /proc/<pid>/status). */
export function memoryOf(pid: number): { peak: number; current: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { peak: kb('VmHWM'), current: kb('VmRSS') };
}

function bound(address: string): Promise<Socket> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 4096 });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, address, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

export interface StallOptions {
  port: number;
  file: string;
  count: number;
  mode?: 'octet' | 'netascii';
  /** Options to request (e.g. blksize 65464, windowsize 64). */
  options?: Record<string, string>;
  /** Give up waiting for the server's first answer after this long. */
  timeoutMs?: number;
}

/**
 * `count` clients that request `file`, acknowledge the first answer (ACK 0 to an OACK, or ACK 1 to DATA 1),
 * and then never answer again, keeping their sockets open (no ICMP). Resolves once every one was answered.
 */
export async function stalledClients(o: StallOptions): Promise<{ answered: number; close(): void }> {
  const sockets: Socket[] = [];
  let answered = 0;
  const all = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, o.timeoutMs ?? 30_000);
    const done = () => {
      answered++;
      if (answered === o.count) {
        clearTimeout(timer);
        resolve();
      }
    };
    void (async () => {
      for (let i = 0; i < o.count; i++) {
        const socket = await bound('127.0.0.1');
        sockets.push(socket);
        let first = true;
        socket.on('message', (msg, from) => {
          if (!first) return;
          first = false;
          const op = msg.readUInt16BE(0);
          if (op === Opcode.OACK) socket.send(encode({ op: Opcode.ACK, block: 0 }), from.port, from.address);
          else if (op === Opcode.DATA)
            socket.send(encode({ op: Opcode.ACK, block: 1 }), from.port, from.address);
          done();
        });
        // Like a real client, repeat the request until it is answered (a busy server's queue may drop it).
        const request = encode({
          op: Opcode.RRQ,
          filename: o.file,
          mode: o.mode ?? 'octet',
          options: o.options ?? {},
        });
        const send = (attempt: number) => {
          if (!first || attempt > 10) return;
          socket.send(request, o.port, '127.0.0.1');
          setTimeout(() => send(attempt + 1), 1000).unref();
        };
        send(0);
      }
    })();
  });
  await all;
  return {
    answered,
    close: () => {
      for (const s of sockets) s.close();
    },
  };
}

/**
 * A request flood as spoofed senders make it: `addresses` loopback addresses (127.0.1.1 ...), `perAddress`
 * source ports each, one RRQ per port, never answered (the sockets stay open and silent).
 */
export async function requestFlood(o: {
  port: number;
  file: string;
  addresses: number;
  perAddress: number;
}): Promise<{ sent: number; close(): void }> {
  const sockets: Socket[] = [];
  const request = encode({ op: Opcode.RRQ, filename: o.file, mode: 'octet', options: { tsize: '0' } });
  for (let a = 0; a < o.addresses; a++) {
    const address = `127.0.1.${a + 1}`;
    for (let i = 0; i < o.perAddress; i++) {
      const socket = await bound(address);
      sockets.push(socket);
      socket.send(request, o.port, '127.0.0.1');
    }
  }
  return {
    sent: sockets.length,
    close: () => {
      for (const s of sockets) s.close();
    },
  };
}
