/** A raw UDP peer for wire-level tests: send hand-made packets, await the next datagram. */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { decode, encode, type Packet } from '../src/index.js';

export interface Received {
  msg: Buffer;
  rinfo: RemoteInfo;
  packet: Packet | undefined;
}

export class RawPeer {
  readonly socket: Socket;
  private queue: Received[] = [];
  private waiters: ((r: Received | undefined) => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('message', (msg, rinfo) => {
      let packet: Packet | undefined;
      try {
        packet = decode(msg);
      } catch {
        packet = undefined;
      }
      const r = { msg, rinfo, packet };
      const w = this.waiters.shift();
      if (w) w(r);
      else this.queue.push(r);
    });
  }

  static async open(address = '127.0.0.1'): Promise<RawPeer> {
    const s = createSocket('udp4');
    await new Promise<void>((res) => s.bind(0, address, () => res()));
    return new RawPeer(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(p: Packet | Buffer, port: number, address = '127.0.0.1'): void {
    this.socket.send(Buffer.isBuffer(p) ? p : encode(p), port, address);
  }

  /** Next datagram, or undefined after `timeoutMs`. */
  next(timeoutMs = 2000): Promise<Received | undefined> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve) => {
      const w = (r: Received | undefined) => {
        clearTimeout(t);
        resolve(r);
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Everything that arrives within `ms`. */
  async drain(ms: number): Promise<Received[]> {
    const out: Received[] = [];
    const end = Date.now() + ms;
    for (let i = 0; i < 100_000; i++) {
      const left = end - Date.now();
      if (left <= 0) break;
      const r = await this.next(left);
      if (!r) break;
      out.push(r);
    }
    return out;
  }

  close(): void {
    this.socket.close();
  }
}
