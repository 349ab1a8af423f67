import { createSocket, type Socket } from 'node:dgram';
import { type DhcpMessage, decodeMessage } from '../../src/index.js';

export interface Inbox {
  socket: Socket;
  port: number;
  /** Wait (bounded) until `n` messages arrived; returns all received so far. */
  take(
    n: number,
    timeoutMs?: number,
  ): Promise<Array<{ msg: DhcpMessage; raw: Buffer; from: string; port: number }>>;
  received: Array<{ msg: DhcpMessage; raw: Buffer; from: string; port: number }>;
  close(): Promise<void>;
}

export async function inbox(address = '127.0.0.1'): Promise<Inbox> {
  const socket = createSocket('udp4');
  const received: Inbox['received'] = [];
  const waiters: Array<() => void> = [];
  socket.on('message', (raw, r) => {
    received.push({ msg: decodeMessage(raw), raw, from: r.address, port: r.port });
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((resolve) => socket.bind(0, address, () => resolve()));
  return {
    socket,
    port: socket.address().port,
    received,
    async take(n, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < n && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 50);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      if (received.length < n) throw new Error(`expected ${n} datagrams, got ${received.length}`);
      return received.slice(0, n);
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
