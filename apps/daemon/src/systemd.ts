/**
 * systemd socket activation (sd_listen_fds(3)): sockets passed as fds 3.. with LISTEN_FDS,
 * LISTEN_PID and optionally LISTEN_FDNAMES, handed to the packages as bound dgram sockets so the
 * daemon can run unprivileged. Without activation, ports below 1024 need root or
 * CAP_NET_BIND_SERVICE; `checkBindPrivilege` says so clearly before trying.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { PrivilegeError } from './errors.js';

/** First passed fd (SD_LISTEN_FDS_START). */
export const SD_LISTEN_FDS_START = 3;

export interface ListenFd {
  fd: number;
  name?: string;
}

/** The fds systemd passed to this process, or [] when not socket-activated. */
export function listenFds(env: NodeJS.ProcessEnv = process.env, pid = process.pid): ListenFd[] {
  const count = Number(env.LISTEN_FDS ?? '');
  if (!Number.isInteger(count) || count <= 0) return [];
  if (env.LISTEN_PID !== undefined && env.LISTEN_PID !== '' && Number(env.LISTEN_PID) !== pid) return [];
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  const out: ListenFd[] = [];
  for (let i = 0; i < count; i++) {
    const name = names[i];
    out.push({ fd: SD_LISTEN_FDS_START + i, ...(name ? { name } : {}) });
  }
  return out;
}

export interface ActivatedSockets {
  tftp?: Socket;
  dhcp?: Socket;
  pxe?: Socket;
}

/**
 * Wrap an inherited fd as a dgram socket. The datagram that triggered the activation is already
 * queued and Node starts reading at once, so packets are held until the package attaches its own
 * 'message' listener, then replayed to it — the Pi's first request is not lost.
 */
function adopt(fd: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const held: [Buffer, RemoteInfo][] = [];
    const hold = (msg: Buffer, rinfo: RemoteInfo) => {
      if (held.length < 256) held.push([msg, rinfo]);
    };
    s.on('message', hold);
    const onNew = (event: string | symbol) => {
      if (event !== 'message') return;
      s.off('newListener', onNew);
      setImmediate(() => {
        s.off('message', hold);
        for (const [msg, rinfo] of held.splice(0)) s.emit('message', msg, rinfo);
      });
    };
    s.on('newListener', onNew);
    s.once('error', reject);
    s.bind({ fd }, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

/**
 * Wrap the activated fds as dgram sockets and sort them by role: by LISTEN_FDNAMES
 * (`tftp`, `dhcp`, `pxe`, as set with FileDescriptorName= in brambled.socket), else by port
 * (69, 67, 4011); a lone unnamed socket on another port is TFTP.
 */
export async function activatedSockets(fds: readonly ListenFd[] = listenFds()): Promise<ActivatedSockets> {
  const out: ActivatedSockets = {};
  const unassigned: Socket[] = [];
  for (const { fd, name } of fds) {
    const s = await adopt(fd);
    const role = name?.toLowerCase();
    const port = s.address().port;
    if (role === 'tftp' || (role === undefined && port === 69)) out.tftp = s;
    else if (role === 'dhcp' || (role === undefined && port === 67)) out.dhcp = s;
    else if (role === 'pxe' || (role === undefined && port === 4011)) out.pxe = s;
    else unassigned.push(s);
  }
  const first = unassigned.shift();
  if (!out.tftp && first) out.tftp = first;
  else if (first) unassigned.push(first);
  for (const s of unassigned) s.close();
  // Remove the variables so children we spawn do not think they were activated (sd_listen_fds(unset_environment=1)).
  delete process.env.LISTEN_FDS;
  delete process.env.LISTEN_PID;
  delete process.env.LISTEN_FDNAMES;
  return out;
}

/** CAP_NET_BIND_SERVICE is capability 10 (linux/capability.h). */
const CAP_NET_BIND_SERVICE = 10n;

export function canBindPort(port: number): boolean {
  if (port === 0 || port >= 1024) return true;
  if (typeof process.getuid === 'function' && process.getuid() === 0) return true;
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
    if (m?.[1] && (BigInt(`0x${m[1]}`) >> CAP_NET_BIND_SERVICE) & 1n) return true;
  } catch {
    /* not Linux */
  }
  try {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
    if (Number.isFinite(start) && port >= start) return true;
  } catch {
    /* not Linux */
  }
  return false;
}

/** Where npm users find the systemd units shipped in the brambled package (its `systemd/` folder). */
const SYSTEMD_UNITS_DIR = '$(npm root -g)/brambled/systemd/';

/** Throws PrivilegeError naming the ways out when `port` cannot be bound by this process. */
export function checkBindPrivilege(what: string, port: number): void {
  if (canBindPort(port)) return;
  throw new PrivilegeError(
    `${what} needs UDP port ${port}, which only root or a process with CAP_NET_BIND_SERVICE may bind. ` +
      `Run brambled through systemd socket activation (the units ship with brambled: ${SYSTEMD_UNITS_DIR}; ` +
      'copy brambled.socket and brambled.service to /etc/systemd/system, see the brambled README), ' +
      `or grant the capability (setcap cap_net_bind_service=+ep "$(command -v node)"), or run as root, ` +
      'or use a port >= 1024 for testing (tftp.listen: 127.0.0.1:6969).',
  );
}
