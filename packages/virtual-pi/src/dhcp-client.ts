import { randomInt } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { type DhcpMessage, decodeMessage, encodeMessage } from '@bramble/dhcp';
import { dhcpAttempts, macBytes } from '@bramble/pi';
import type { Logger } from '@bramble/tftp';
import { buildDiscover, buildRequest, ipv4, MSG, messageType, OPT } from './dhcp-messages.js';
import { VirtualPiError } from './errors.js';
import type { DhcpProfile, PiIdentity } from './models/types.js';
import { judgeOffer, type OfferVerdict } from './offer-rules.js';
import type { BootStep, DhcpSummary, SeenOffer } from './report.js';
import { describeOffer, MAX_SEEN_OFFERS } from './seen-offer.js';

function markUsed(seen: SeenOffer, use: 'boot' | 'address'): void {
  seen.used = [...(seen.used ?? []), use];
}

export interface DhcpClientOptions {
  /** Where DISCOVER/REQUEST go: a server address, or '255.255.255.255' as a real Pi does. */
  server: string;
  /** Server port (67). */
  port?: number;
  /** Port the virtual Pi listens on (68; needs root). */
  clientPort?: number;
  /** Local address to bind (default 0.0.0.0, which also receives broadcast replies). */
  localAddress?: string;
  /**
   * Override the model's DISCOVERs per network-boot attempt (Pi 3: 5; Pi 4/5: 12, DHCP_TIMEOUT 45 s /
   * DHCP_REQ_TIMEOUT 4 s) and the wait between them (5 s / 4 s).
   */
  attempts?: number;
  retryIntervalMs?: number;
  /**
   * Network-boot restarts after a DHCP sequence with no boot offer, for models whose bootloader
   * restarts (Pi 4/5: BOOT_ORDER's RESTART); the Pi 3 ROM halts instead. Default 0 (one sequence);
   * a real EEPROM keeps restarting, so set it (bounded) to model a Pi left powered on.
   */
  restarts?: number;
  /** After the first acceptable boot offer, how long the virtual Pi keeps listening for more offers (300 ms). */
  offerWaitMs?: number;
  /**
   * Address of the interface to broadcast on. The send socket is bound to it (port `clientPort`): Linux routes a
   * limited broadcast from a bound source out of that source's interface (the SO_BINDTODEVICE Node lacks).
   * Replies are still received on 0.0.0.0, the only address broadcasts are delivered to.
   */
  sendAddress?: string;
  /** Interface name, for the report. */
  interfaceName?: string;
  /** Set the RFC 2131 §4.1 broadcast flag so servers broadcast replies (default true); see DhcpTargetSchema. */
  broadcastFlag?: boolean;
}

/** RFC 2131 §2 'flags': the leftmost bit asks servers to broadcast their replies. */
const BROADCAST_FLAG = 0x8000;

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

/** Replies queued but not yet read; more (a flood of matching packets) are dropped. */
const MAX_QUEUED_REPLIES = 256;

class Inbox {
  private queue: Received[] = [];
  private waiter: (() => void) | undefined;
  push(r: Received): void {
    if (this.queue.length >= MAX_QUEUED_REPLIES) return;
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

async function openSocket(
  clientOptions: DhcpClientOptions,
  address: string,
  logger?: Logger,
): Promise<Socket> {
  const sock = createSocket({ type: 'udp4', reuseAddr: true });
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(clientOptions.clientPort ?? 68, address, () => {
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
      `cannot bind the virtual Pi's DHCP client to ${address}:${clientOptions.clientPort ?? 68} (${(e as Error).message}); port 68 needs root, pick dhcp.clientPort otherwise`,
      { cause: e },
    );
  }
  return sock;
}

/** The socket DISCOVER/REQUEST leave from, and every socket replies may arrive on. */
interface DhcpSockets {
  send: Socket;
  all: Socket[];
}

/**
 * One socket on `localAddress` (default 0.0.0.0). With `sendAddress`, a second one bound to it sends (so the
 * broadcast leaves through that interface) while the 0.0.0.0 one receives the broadcast replies.
 */
async function openSockets(o: DhcpClientOptions, logger?: Logger): Promise<DhcpSockets> {
  const listen = await openSocket(o, o.localAddress ?? '0.0.0.0', logger);
  if (!o.sendAddress || o.sendAddress === (o.localAddress ?? '0.0.0.0'))
    return { send: listen, all: [listen] };
  try {
    const send = await openSocket(o, o.sendAddress, logger);
    return { send, all: [send, listen] };
  } catch (e) {
    listen.close();
    throw e;
  }
}

type StepInput = Omit<BootStep, 'protocol' | 'stage' | 'atMs'> & { at?: number };

interface ExchangeContext {
  t0: number;
  signal?: AbortSignal;
  logger?: Logger;
}

/** The boot offer the ROM accepted, and the address offer (from the real DHCP server) if any. */
interface Offers {
  boot?: { r: Received; v: OfferVerdict; seen: SeenOffer };
  address?: { r: Received; seen: SeenOffer };
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
  /** DHCP sequences: 1 + restarts (only for a bootloader that restarts). */
  private readonly rounds: number;
  private readonly target: string;
  /** DISCOVERs sent, over every round. */
  private discovers = 0;

  constructor(
    private readonly profile: DhcpProfile,
    private readonly id: PiIdentity,
    private readonly options: DhcpClientOptions,
    private readonly ctx: ExchangeContext,
    private readonly sockets: DhcpSockets,
    private readonly xid: number,
  ) {
    this.summary = { xid, offers: 0, seen: [] };
    if (options.interfaceName) this.summary.interface = options.interfaceName;
    this.port = options.port ?? 67;
    this.attempts = options.attempts ?? dhcpAttempts(profile.retry);
    this.interval = options.retryIntervalMs ?? profile.retry.requestTimeoutMs;
    this.rounds = 1 + (profile.retry.afterTimeout === 'restart' ? (options.restarts ?? 0) : 0);
    this.target = `${options.server}:${this.port}`;
    const chaddr = macBytes(id.mac);
    const onMessage = (buf: Buffer, from: RemoteInfo): void => {
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
    };
    for (const sock of sockets.all) sock.on('message', onMessage);
  }

  /** DISCOVER, the ROM's offer rules, then (Pi 4/5) REQUEST/ACK. */
  async run(): Promise<DhcpOutcome> {
    const offers = await this.discover();
    if ('failed' in offers) return offers.failed;
    if (!offers.boot) {
      if (this.profile.retry.afterTimeout === 'halt')
        this.warnings.push(
          'the boot ROM stops asking after its last DISCOVER and stays halted until power-cycled',
        );
      return this.fail(this.noBootReason(offers));
    }
    this.recordBootOffer(offers.boot);
    if (!offers.address) {
      this.warnings.push(
        'only a proxyDHCP offer (no address) was seen: a real Pi also needs an address from a DHCP server',
      );
      return this.succeed();
    }
    this.summary.address = offers.address.r.msg.yiaddr;
    markUsed(offers.address.seen, 'address');
    if (!this.profile.sendsRequest) return this.succeed();
    return this.request(offers.address.r);
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
    if (this.options.broadcastFlag ?? true) message.flags |= BROADCAST_FLAG;
    return new Promise<void>((resolve, reject) =>
      this.sockets.send.send(encodeMessage(message), this.port, this.options.server, (e) =>
        e ? reject(e) : resolve(),
      ),
    );
  }

  private checkAborted(): void {
    if (this.ctx.signal?.aborted) throw new VirtualPiError('ABORTED', 'boot aborted');
  }

  /**
   * Up to `attempts` DISCOVERs, each followed by collecting offers until the retry interval ends; a
   * bootloader that restarts network boot does it all again, up to `rounds` times.
   */
  private async discover(): Promise<Offers | { failed: DhcpOutcome }> {
    const offers: Offers = { rejections: [] };
    for (let round = 1; round <= this.rounds && !offers.boot; round++) {
      if (round > 1)
        this.step({
          action: 'RESTART',
          target: this.target,
          outcome: 'ok',
          ms: 0,
          detail: `network boot restarted (${round}/${this.rounds}) after ${this.attempts} DISCOVERs without a boot offer`,
        });
      const failed = await this.discoverRound(offers);
      if (failed) return failed;
    }
    this.summary.discovers = this.discovers;
    return offers;
  }

  /** One DHCP sequence: up to `attempts` DISCOVERs until a boot offer arrives. */
  private async discoverRound(offers: Offers): Promise<{ failed: DhcpOutcome } | undefined> {
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
      this.discovers += 1;
      this.step({
        action: 'DISCOVER',
        target: this.target,
        outcome: 'ok',
        ms: 0,
        detail: `attempt ${attempt}/${this.attempts}`,
      });
      await this.collectOffers(offers, sentAt);
    }
    return undefined;
  }

  private async collectOffers(offers: Offers, sentAt: number): Promise<void> {
    let deadline = sentAt + this.interval;
    for (;;) {
      const r = await this.inbox.next(deadline, this.ctx.signal);
      if (!r) return;
      if (messageType(r.msg) !== MSG.OFFER) continue;
      const { v, seen } = this.judge(r, sentAt, offers);
      if (r.msg.yiaddr !== '0.0.0.0' && !offers.address) offers.address = { r, seen };
      if (v.accepted && !offers.boot) {
        offers.boot = { r, v, seen };
        // Pi 3 takes the first acceptable offer, Pi 4/5 wait for an address offer too; the virtual Pi keeps
        // listening a little longer either way, to report every server that answers.
        deadline = Math.min(deadline, Date.now() + (this.options.offerWaitMs ?? 300));
      }
    }
  }

  /** Apply the ROM's acceptance rules to one OFFER and record it as a step. */
  private judge(r: Received, sentAt: number, offers: Offers): { v: OfferVerdict; seen: SeenOffer } {
    this.summary.offers++;
    const v = judgeOffer(this.profile, r.msg, r.from.address);
    const seen = describeOffer(r.msg, r.from.address, v, r.at - this.ctx.t0);
    if ((this.summary.seen?.length ?? 0) < MAX_SEEN_OFFERS) this.summary.seen?.push(seen);
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
    if (!v.accepted && v.reason && offers.rejections.length < MAX_SEEN_OFFERS)
      offers.rejections.push(`${who}: ${v.reason}`);
    return { v, seen };
  }

  private noBootReason(offers: Offers): string {
    if (this.summary.offers === 0)
      return `no DHCP offer after ${this.discovers} DHCPDISCOVER${this.discovers > 1 ? 's' : ''} to ${this.target}${this.options.interfaceName ? ` on ${this.options.interfaceName}` : ''}`;
    if (offers.rejections.some((x) => x.includes('trailing spaces')))
      return "option 43 has 'Raspberry Pi Boot' but not the trailing-spaces form the Pi 3B ROM needs";
    return `no option 43 with '${this.profile.option43Match}' in any offer`;
  }

  private recordBootOffer(boot: { r: Received; v: OfferVerdict; seen: SeenOffer }): void {
    markUsed(boot.seen, 'boot');
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
  const sockets = await openSockets(options, ctx.logger);
  try {
    return await new DhcpExchange(profile, id, options, ctx, sockets, xid).run();
  } finally {
    for (const sock of sockets.all) sock.close();
  }
}
