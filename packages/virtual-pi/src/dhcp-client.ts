import { randomInt } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { type DhcpMessage, decodeMessage, encodeMessage } from '@bramble/dhcp';
import { macBytes } from '@bramble/pi';
import type { Logger } from '@bramble/tftp';
import { buildDiscover, buildRequest, ipv4, MSG, messageType, OPT } from './dhcp-messages.js';
import { VirtualPiError } from './errors.js';
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

async function openSocket(clientOptions: DhcpClientOptions, logger?: Logger): Promise<Socket> {
  const sock = createSocket({ type: 'udp4', reuseAddr: true });
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(clientOptions.clientPort ?? 68, clientOptions.localAddress ?? '0.0.0.0', () => {
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
      `cannot bind the virtual Pi's DHCP client to ${clientOptions.localAddress ?? '0.0.0.0'}:${clientOptions.clientPort ?? 68} (${(e as Error).message}); port 68 needs root, pick dhcp.clientPort otherwise`,
      { cause: e },
    );
  }
  return sock;
}

type StepInput = Omit<BootStep, 'protocol' | 'stage' | 'atMs'> & { at?: number };

interface ExchangeContext {
  t0: number;
  signal?: AbortSignal;
  logger?: Logger;
}

/** The boot offer the ROM accepted, and the address offer (from the real DHCP server) if any. */
interface Offers {
  boot?: { r: Received; v: OfferVerdict };
  address?: Received;
  rejections: string[];
}

/** One DHCP exchange of one virtual Pi: the socket, the steps so far and the summary. */
class DhcpExchange {
  readonly steps: BootStep[] = [];
  readonly warnings: string[] = [];
  readonly summary: DhcpSummary;
  private readonly inbox = new Inbox();
  private readonly port: number;
  private readonly attempts: number;
  private readonly interval: number;
  private readonly target: string;

  constructor(
    private readonly profile: DhcpProfile,
    private readonly id: PiIdentity,
    private readonly options: DhcpClientOptions,
    private readonly ctx: ExchangeContext,
    private readonly sock: Socket,
    private readonly xid: number,
  ) {
    this.summary = { xid, offers: 0 };
    this.port = options.port ?? 67;
    this.attempts = options.attempts ?? profile.attempts;
    this.interval = options.retryIntervalMs ?? profile.retryIntervalMs;
    this.target = `${options.server}:${this.port}`;
    const chaddr = macBytes(id.mac);
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
      this.inbox.push({ msg, from, at: Date.now() });
    });
  }

  /** DISCOVER, the ROM's offer rules, then (Pi 4/5) REQUEST/ACK. */
  async run(): Promise<DhcpOutcome> {
    const offers = await this.discover();
    if ('failed' in offers) return offers.failed;
    if (!offers.boot) return this.fail(this.noBootReason(offers));
    this.recordBootOffer(offers.boot);
    if (!offers.address) {
      this.warnings.push(
        'only a proxyDHCP offer (no address) was seen: a real Pi also needs an address from a DHCP server',
      );
      return this.succeed();
    }
    this.summary.address = offers.address.msg.yiaddr;
    if (!this.profile.sendsRequest) return this.succeed();
    return this.request(offers.address);
  }

  private succeed(): DhcpOutcome {
    return { ok: true, summary: this.summary, steps: this.steps, warnings: this.warnings };
  }

  private fail(reason: string): DhcpOutcome {
    return { ok: false, reason, summary: this.summary, steps: this.steps, warnings: this.warnings };
  }

  private step(input: StepInput): void {
    const at = input.at ?? Date.now();
    const { at: _drop, ...rest } = input;
    this.steps.push({
      protocol: 'dhcp',
      stage: this.profile.sendsRequest ? 'EEPROM bootloader' : 'boot ROM',
      atMs: at - this.ctx.t0,
      ...rest,
    });
  }

  private send(message: DhcpMessage): Promise<void> {
    return new Promise<void>((resolve, reject) =>
      this.sock.send(encodeMessage(message), this.port, this.options.server, (e) =>
        e ? reject(e) : resolve(),
      ),
    );
  }

  private checkAborted(): void {
    if (this.ctx.signal?.aborted) throw new VirtualPiError('ABORTED', 'boot aborted');
  }

  /** Up to `attempts` DISCOVERs, each followed by collecting offers until the retry interval ends. */
  private async discover(): Promise<Offers | { failed: DhcpOutcome }> {
    const offers: Offers = { rejections: [] };
    for (let attempt = 1; attempt <= this.attempts && !offers.boot; attempt++) {
      this.checkAborted();
      const sentAt = Date.now();
      try {
        await this.send(buildDiscover(this.profile, this.id, this.xid));
      } catch (e) {
        const message = (e as Error).message;
        this.step({ action: 'DISCOVER', target: this.target, outcome: 'error', ms: 0, detail: message });
        return { failed: this.fail(`cannot send DHCPDISCOVER to ${this.target}: ${message}`) };
      }
      this.step({
        action: 'DISCOVER',
        target: this.target,
        outcome: 'ok',
        ms: 0,
        detail: `attempt ${attempt}/${this.attempts}`,
      });
      await this.collectOffers(offers, sentAt);
    }
    return offers;
  }

  private async collectOffers(offers: Offers, sentAt: number): Promise<void> {
    let deadline = sentAt + this.interval;
    for (;;) {
      const r = await this.inbox.next(deadline, this.ctx.signal);
      if (!r) return;
      if (messageType(r.msg) !== MSG.OFFER) continue;
      const v = this.judge(r, sentAt, offers);
      if (r.msg.yiaddr !== '0.0.0.0' && !offers.address) offers.address = r;
      if (v.accepted && !offers.boot) {
        offers.boot = { r, v };
        // Pi 3 takes the first acceptable offer; Pi 4/5 listen a little longer for an address offer.
        if (!this.profile.sendsRequest) return;
        deadline = Math.min(deadline, Date.now() + (this.options.offerWaitMs ?? 300));
      }
      if (offers.boot && (offers.address || !this.profile.sendsRequest)) return;
    }
  }

  /** Apply the ROM's acceptance rules to one OFFER and record it as a step. */
  private judge(r: Received, sentAt: number, offers: Offers): OfferVerdict {
    this.summary.offers++;
    const v = judgeOffer(this.profile, r.msg, r.from.address);
    const who = v.serverId ?? r.from.address;
    this.step({
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
    if (!v.accepted && v.reason) offers.rejections.push(`${who}: ${v.reason}`);
    return v;
  }

  private noBootReason(offers: Offers): string {
    if (this.summary.offers === 0)
      return `no DHCP offer after ${this.attempts} DHCPDISCOVER${this.attempts > 1 ? 's' : ''} to ${this.target}`;
    if (offers.rejections.some((x) => x.includes('trailing spaces')))
      return "option 43 has 'Raspberry Pi Boot' but not the trailing-spaces form the Pi 3B ROM needs";
    return `no option 43 with '${this.profile.option43Match}' in any offer`;
  }

  private recordBootOffer(boot: { r: Received; v: OfferVerdict }): void {
    this.summary.server = boot.v.serverId ?? boot.r.from.address;
    if (boot.v.tftpServer) this.summary.tftpServer = boot.v.tftpServer;
    if (boot.v.tftpServerFrom) this.summary.tftpServerFrom = boot.v.tftpServerFrom;
    const o43 = boot.r.msg.options.get(OPT.VENDOR_SPECIFIC);
    if (o43) this.summary.option43 = o43.toString('hex');
    if (boot.r.msg.siaddr !== '0.0.0.0' && boot.r.msg.siaddr !== boot.v.tftpServer) {
      this.warnings.push(
        `offer has siaddr ${boot.r.msg.siaddr}, which the Pi ignores (it uses ${boot.v.tftpServer})`,
      );
    }
  }

  /** RFC 2131 §3.1 step 3: DHCPREQUEST naming the chosen server, then wait for DHCPACK/DHCPNAK. */
  private async request(address: Received): Promise<DhcpOutcome> {
    const serverId = ipv4(address.msg.options.get(OPT.SERVER_ID)) ?? address.from.address;
    for (let attempt = 1; attempt <= Math.min(this.attempts, 3); attempt++) {
      const sentAt = Date.now();
      await this.send(buildRequest(this.profile, this.id, this.xid, address.msg.yiaddr, serverId));
      this.step({
        action: 'REQUEST',
        target: this.target,
        outcome: 'ok',
        ms: 0,
        detail: `${address.msg.yiaddr} from ${serverId}`,
      });
      const answer = await this.awaitAck(address, serverId, sentAt);
      if (answer) return answer;
      this.checkAborted();
    }
    return this.fail(`no DHCPACK from ${serverId} for the DHCPREQUEST of ${address.msg.yiaddr}`);
  }

  /** The outcome once a DHCPACK or DHCPNAK arrives; undefined when the retry interval ends first. */
  private async awaitAck(
    address: Received,
    serverId: string,
    sentAt: number,
  ): Promise<DhcpOutcome | undefined> {
    const deadline = sentAt + this.interval;
    for (;;) {
      const r = await this.inbox.next(deadline, this.ctx.signal);
      if (!r) return undefined;
      const type = messageType(r.msg);
      if (type === MSG.ACK) {
        this.step({
          action: 'ACK',
          target: serverId,
          outcome: 'ok',
          ms: r.at - sentAt,
          at: r.at,
          detail: r.msg.yiaddr,
        });
        this.summary.address = r.msg.yiaddr !== '0.0.0.0' ? r.msg.yiaddr : address.msg.yiaddr;
        return this.succeed();
      }
      if (type === MSG.NAK) {
        this.step({ action: 'NAK', target: serverId, outcome: 'rejected', ms: r.at - sentAt, at: r.at });
        return this.fail(
          `DHCP server ${serverId} refused (DHCPNAK) the DHCPREQUEST for ${address.msg.yiaddr}`,
        );
      }
    }
  }
}

/**
 * Run the model's DHCP exchange: DISCOVER (×attempts), collect OFFERs, apply the ROM's acceptance rules,
 * then DHCPREQUEST/ACK for Pi 4/5. Never throws for what a server sends; only for local socket problems/abort.
 */
export async function runDhcp(
  profile: DhcpProfile,
  id: PiIdentity,
  options: DhcpClientOptions,
  ctx: ExchangeContext,
): Promise<DhcpOutcome> {
  const xid = profile.xid.kind === 'fixed' ? profile.xid.value : randomInt(1, 0xffffffff);
  const sock = await openSocket(options, ctx.logger);
  try {
    return await new DhcpExchange(profile, id, options, ctx, sock, xid).run();
  } finally {
    sock.close();
  }
}
