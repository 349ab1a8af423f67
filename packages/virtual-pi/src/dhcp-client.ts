import { randomInt } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { type DhcpMessage, decodeMessage, encodeMessage } from '@bramble/dhcp';
import type { Logger } from '@bramble/tftp';
import { buildDiscover, buildRequest, ipv4, MSG, messageType, OPT } from './dhcp-messages.js';
import { VirtualPiError } from './errors.js';
import { macBytes } from './identity.js';
import type { DhcpProfile, PiIdentity } from './models/types.js';
import { judgeOffer, type OfferVerdict } from './offer-rules.js';
import type { BootStep, DhcpSummary } from './report.js';

export interface DhcpClientOptions {
  /** Where DISCOVER/REQUEST go: a server address, or '255.255.255.255' as a real Pi does. */
  server: string;
  /** Server port (67). */
  port?: number;
  /** Port the virtual Pi listens on (68; needs root). */
  clientPort?: number;
  /** Local address to bind (default 0.0.0.0, which also receives broadcast replies). */
  localAddress?: string;
  /** Override the model's DISCOVER attempts (Pi 3: 5) and the wait between them (5 s / 4 s). */
  attempts?: number;
  retryIntervalMs?: number;
  /** After the first acceptable boot offer, how long a Pi 4/5 keeps listening for an address offer (300 ms). */
  offerWaitMs?: number;
}

export interface DhcpOutcome {
  ok: boolean;
  reason?: string;
  summary: DhcpSummary;
  steps: BootStep[];
  warnings: string[];
}

interface Received {
  msg: DhcpMessage;
  from: RemoteInfo;
  at: number;
}

class Inbox {
  private queue: Received[] = [];
  private waiter: (() => void) | undefined;
  push(r: Received): void {
    this.queue.push(r);
    this.waiter?.();
  }
  /** Next message, or undefined at the deadline / abort. */
  async next(deadline: number, signal?: AbortSignal): Promise<Received | undefined> {
    for (;;) {
      const r = this.queue.shift();
      if (r) return r;
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, left);
        function done() {
          clearTimeout(t);
          signal?.removeEventListener('abort', done);
          resolve();
        }
        this.waiter = done;
        signal?.addEventListener('abort', done, { once: true });
      });
      this.waiter = undefined;
    }
  }
}

async function openSocket(o: DhcpClientOptions, logger?: Logger): Promise<Socket> {
  const sock = createSocket({ type: 'udp4', reuseAddr: true });
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(o.clientPort ?? 68, o.localAddress ?? '0.0.0.0', () => {
        sock.off('error', reject);
        resolve();
      });
    });
    sock.setBroadcast(true);
    // Late socket errors (e.g. ICMP-triggered) must not crash the process: sends report theirs via callbacks.
    sock.on('error', (e) => logger?.debug({ err: e.message }, 'virtual-pi: DHCP socket error'));
  } catch (e) {
    sock.close();
    throw new VirtualPiError(
      'DHCP_SOCKET',
      `cannot bind the virtual Pi's DHCP client to ${o.localAddress ?? '0.0.0.0'}:${o.clientPort ?? 68} (${(e as Error).message}); port 68 needs root, pick dhcp.clientPort otherwise`,
      { cause: e },
    );
  }
  return sock;
}

/**
 * Run the model's DHCP exchange: DISCOVER (×attempts), collect OFFERs, apply the ROM's acceptance rules,
 * then DHCPREQUEST/ACK for Pi 4/5. Never throws for what a server sends; only for local socket problems/abort.
 */
export async function runDhcp(
  p: DhcpProfile,
  id: PiIdentity,
  o: DhcpClientOptions,
  ctx: { t0: number; signal?: AbortSignal; logger?: Logger },
): Promise<DhcpOutcome> {
  const xid = p.xid.kind === 'fixed' ? p.xid.value : randomInt(1, 0xffffffff);
  const steps: BootStep[] = [];
  const warnings: string[] = [];
  const summary: DhcpSummary = { xid, offers: 0 };
  const port = o.port ?? 67;
  const attempts = o.attempts ?? p.attempts;
  const interval = o.retryIntervalMs ?? p.retryIntervalMs;
  const chaddr = macBytes(id.mac);
  const inbox = new Inbox();
  const sock = await openSocket(o, ctx.logger);
  sock.on('message', (buf, from) => {
    let msg: DhcpMessage;
    try {
      msg = decodeMessage(buf);
    } catch (e) {
      ctx.logger?.debug(
        { from: from.address, err: (e as Error).message },
        'virtual-pi: ignored malformed DHCP packet',
      );
      return;
    }
    // RFC 2131 §4.4.1: a client matches replies by xid (and we also by chaddr: every Pi 3 shares one xid).
    if (msg.op !== 2 || msg.xid !== xid || !msg.chaddr.subarray(0, 6).equals(chaddr)) return;
    inbox.push({ msg, from, at: Date.now() });
  });
  const send = (m: DhcpMessage) =>
    new Promise<void>((resolve, reject) =>
      sock.send(encodeMessage(m), port, o.server, (e) => (e ? reject(e) : resolve())),
    );
  const step = (s: Omit<BootStep, 'protocol' | 'stage' | 'atMs'> & { at?: number }): void => {
    const at = s.at ?? Date.now();
    const { at: _drop, ...rest } = s;
    steps.push({
      protocol: 'dhcp',
      stage: p.sendsRequest ? 'EEPROM bootloader' : 'boot ROM',
      atMs: at - ctx.t0,
      ...rest,
    });
  };
  try {
    let boot: { r: Received; v: OfferVerdict } | undefined;
    let address: Received | undefined;
    const rejections: string[] = [];
    for (let attempt = 1; attempt <= attempts && !boot; attempt++) {
      if (ctx.signal?.aborted) throw new VirtualPiError('ABORTED', 'boot aborted');
      const sentAt = Date.now();
      try {
        await send(buildDiscover(p, id, xid));
      } catch (e) {
        step({
          action: 'DISCOVER',
          target: `${o.server}:${port}`,
          outcome: 'error',
          ms: 0,
          detail: (e as Error).message,
        });
        return {
          ok: false,
          reason: `cannot send DHCPDISCOVER to ${o.server}:${port}: ${(e as Error).message}`,
          summary,
          steps,
          warnings,
        };
      }
      step({
        action: 'DISCOVER',
        target: `${o.server}:${port}`,
        outcome: 'ok',
        ms: 0,
        detail: `attempt ${attempt}/${attempts}`,
      });
      let deadline = sentAt + interval;
      for (;;) {
        const r = await inbox.next(deadline, ctx.signal);
        if (!r) break;
        if (messageType(r.msg) !== MSG.OFFER) continue;
        summary.offers++;
        const v = judgeOffer(p, r.msg, r.from.address);
        const who = v.serverId ?? r.from.address;
        step({
          action: 'OFFER',
          target: who,
          outcome: v.accepted ? 'ok' : 'rejected',
          ms: r.at - sentAt,
          at: r.at,
          detail: [
            r.msg.yiaddr !== '0.0.0.0' ? `yiaddr ${r.msg.yiaddr}` : 'proxy (no address)',
            v.reason ?? `TFTP ${v.tftpServer} (${v.tftpServerFrom})`,
          ].join(', '),
        });
        if (!v.accepted && v.reason) rejections.push(`${who}: ${v.reason}`);
        if (r.msg.yiaddr !== '0.0.0.0' && !address) address = r;
        if (v.accepted && !boot) {
          boot = { r, v };
          // Pi 3 takes the first acceptable offer; Pi 4/5 listen a little longer for an address offer.
          if (!p.sendsRequest) break;
          deadline = Math.min(deadline, Date.now() + (o.offerWaitMs ?? 300));
        }
        if (boot && (address || !p.sendsRequest)) break;
      }
    }
    if (!boot) {
      const reason =
        summary.offers === 0
          ? `no DHCP offer after ${attempts} DHCPDISCOVER${attempts > 1 ? 's' : ''} to ${o.server}:${port}`
          : rejections.some((x) => x.includes('trailing spaces'))
            ? "option 43 has 'Raspberry Pi Boot' but not the trailing-spaces form the Pi 3B ROM needs"
            : `no option 43 with '${p.option43Match}' in any offer`;
      return { ok: false, reason, summary, steps, warnings };
    }
    const bootServer = boot.v.serverId ?? boot.r.from.address;
    summary.server = bootServer;
    if (boot.v.tftpServer) summary.tftpServer = boot.v.tftpServer;
    if (boot.v.tftpServerFrom) summary.tftpServerFrom = boot.v.tftpServerFrom;
    const o43 = boot.r.msg.options.get(OPT.VENDOR_SPECIFIC);
    if (o43) summary.option43 = o43.toString('hex');
    if (boot.r.msg.siaddr !== '0.0.0.0' && boot.r.msg.siaddr !== boot.v.tftpServer) {
      warnings.push(
        `offer has siaddr ${boot.r.msg.siaddr}, which the Pi ignores (it uses ${boot.v.tftpServer})`,
      );
    }
    if (!address) {
      warnings.push(
        'only a proxyDHCP offer (no address) was seen: a real Pi also needs an address from a DHCP server',
      );
      return { ok: true, summary, steps, warnings };
    }
    summary.address = address.msg.yiaddr;
    if (!p.sendsRequest) return { ok: true, summary, steps, warnings };

    // RFC 2131 §3.1 step 3: DHCPREQUEST naming the chosen server, then wait for DHCPACK/DHCPNAK.
    const serverId = ipv4(address.msg.options.get(OPT.SERVER_ID)) ?? address.from.address;
    for (let attempt = 1; attempt <= Math.min(attempts, 3); attempt++) {
      const sentAt = Date.now();
      await send(buildRequest(p, id, xid, address.msg.yiaddr, serverId));
      step({
        action: 'REQUEST',
        target: `${o.server}:${port}`,
        outcome: 'ok',
        ms: 0,
        detail: `${address.msg.yiaddr} from ${serverId}`,
      });
      const deadline = sentAt + interval;
      for (;;) {
        const r = await inbox.next(deadline, ctx.signal);
        if (!r) break;
        const t = messageType(r.msg);
        if (t === MSG.ACK) {
          step({
            action: 'ACK',
            target: serverId,
            outcome: 'ok',
            ms: r.at - sentAt,
            at: r.at,
            detail: r.msg.yiaddr,
          });
          summary.address = r.msg.yiaddr !== '0.0.0.0' ? r.msg.yiaddr : address.msg.yiaddr;
          return { ok: true, summary, steps, warnings };
        }
        if (t === MSG.NAK) {
          step({ action: 'NAK', target: serverId, outcome: 'rejected', ms: r.at - sentAt, at: r.at });
          return {
            ok: false,
            reason: `DHCP server ${serverId} refused (DHCPNAK) the DHCPREQUEST for ${address.msg.yiaddr}`,
            summary,
            steps,
            warnings,
          };
        }
      }
      if (ctx.signal?.aborted) throw new VirtualPiError('ABORTED', 'boot aborted');
    }
    return {
      ok: false,
      reason: `no DHCPACK from ${serverId} for the DHCPREQUEST of ${address.msg.yiaddr}`,
      summary,
      steps,
      warnings,
    };
  } finally {
    sock.close();
  }
}
