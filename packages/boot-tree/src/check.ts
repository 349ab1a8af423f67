import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { exists, readTextIfExists } from './fs-util.js';
import type { PiModelName } from './node-spec.js';
import { parseNfsRoot } from './patch/cmdline.js';
import { CONFIG_TXT_MAX_BYTES, configValues } from './patch/config-txt.js';
import { sdCardLines } from './patch/fstab.js';
import type { NodeLayout } from './provision.js';

export interface CheckProblem {
  /** Hostname of the node (or '(cluster)'). */
  node: string;
  severity: 'error' | 'warning';
  /** Stable identifier, e.g. 'NO_BOOTCODE'. */
  code: string;
  message: string;
  fix: string;
}

/** One line: `node: message — fix: …`. */
export function formatProblem(p: CheckProblem): string {
  return `${p.severity === 'error' ? 'ERROR' : 'warning'} ${p.node}: ${p.message} — fix: ${p.fix}`;
}

/** What checkNode needs: a NodeLayout from provisionNode (or one rebuilt from a manifest). */
export type CheckTarget = Pick<
  NodeLayout,
  'node' | 'hostname' | 'tftpRoot' | 'tftpDir' | 'rootPath' | 'release' | 'nfsVersion' | 'usesInitramfs'
>;

export interface CheckOptions {
  /** Paths the NFS server exports (from exportsFile/ganeshaConfig); when given, cmdline/fstab paths must be in it. */
  exportedPaths?: readonly string[];
}

type Family = 'pi3' | 'pi4' | 'pi5' | 'unknown';
function family(m: PiModelName | undefined): Family {
  if (m === 'pi3b' || m === 'pi3b+') return 'pi3';
  if (m === 'pi4' || m === 'pi400' || m === 'cm4') return 'pi4';
  if (m === 'pi5' || m === 'pi500' || m === 'cm5') return 'pi5';
  return 'unknown';
}
const FILTERS: Record<Family, string[]> = {
  pi3: ['pi3', 'pi3+'],
  pi4: ['pi4', 'pi400', 'cm4'],
  pi5: ['pi5', 'pi500', 'cm5'],
  unknown: [],
};
const DTB_PREFIX: Record<Family, string> = {
  pi3: 'bcm2710-',
  pi4: 'bcm2711-',
  pi5: 'bcm2712',
  unknown: 'bcm27',
};

/**
 * Check that everything a node's Pi looks for is where it will look: bootcode.bin at the TFTP root,
 * firmware (start*.elf + fixup, or config.txt + dtb on a Pi 5) in its directory, the kernel config.txt
 * names, config.txt under 4 KiB, cmdline pointing at an existing (exported) NFS root with an NFS version
 * the release's initramfs can mount, no SD-card lines in fstab, /etc/hostname matching the spec.
 */
export async function checkNode(t: CheckTarget, o: CheckOptions = {}): Promise<CheckProblem[]> {
  const out: CheckProblem[] = [];
  const host = t.hostname;
  const add = (severity: CheckProblem['severity'], code: string, message: string, fix: string) =>
    out.push({ node: host, severity, code, message, fix });
  const fam = family(t.node.model);
  const has = (f: string) => exists(join(t.tftpDir, f));

  if (!(await exists(join(t.tftpRoot, 'bootcode.bin'))) && (fam === 'pi3' || fam === 'unknown')) {
    add(
      fam === 'pi3' ? 'error' : 'warning',
      'NO_BOOTCODE',
      `bootcode.bin is missing from the TFTP root ${t.tftpRoot} (the Pi 3 boot ROM asks for it there)`,
      'copy bootcode.bin from the image boot partition into the TFTP root (re-run provisioning)',
    );
  }
  const byMac = /^([0-9a-f]{2}-){5}[0-9a-f]{2}$/.test(basename(t.tftpDir));
  if (byMac && fam === 'pi3') {
    add(
      'error',
      'PI3_NEEDS_SERIAL',
      `the node directory is named by MAC (${basename(t.tftpDir)}) but Pi 3 firmware only looks for <serial>/`,
      "give the node its serial and tftpPrefix 'serial'",
    );
  } else if (byMac) {
    add(
      'warning',
      'MAC_PREFIX_NEEDS_EEPROM',
      `the node directory is named by MAC (${basename(t.tftpDir)}); the Pi only asks for it with TFTP_PREFIX=2`,
      'set TFTP_PREFIX=2 in the bootloader EEPROM config (rpi-eeprom-config --edit), or use the serial',
    );
  }
  if (!(await exists(t.tftpDir))) {
    add(
      'error',
      'NO_NODE_DIR',
      `TFTP directory ${t.tftpDir} does not exist`,
      'run provisioning for this node',
    );
    return out;
  }
  const entries = await readdir(t.tftpDir).catch(() => [] as string[]);
  const dtbs = entries.filter((e) => e.endsWith('.dtb') && e.startsWith(DTB_PREFIX[fam]));
  if (fam === 'pi3' && !((await has('start.elf')) && (await has('fixup.dat')))) {
    add(
      'error',
      'NO_FIRMWARE',
      'start.elf/fixup.dat missing in the node directory',
      'use an image with Pi 3 firmware',
    );
  }
  if (fam === 'pi4' && !((await has('start4.elf')) && (await has('fixup4.dat')))) {
    add(
      'error',
      'NO_FIRMWARE',
      'start4.elf/fixup4.dat missing in the node directory',
      'use an image with Pi 4 firmware',
    );
  }
  if (
    fam === 'unknown' &&
    !(await has('start4.elf')) &&
    !(await has('start.elf')) &&
    !(await has('config.txt'))
  ) {
    add(
      'error',
      'NO_FIRMWARE',
      'no start*.elf and no config.txt in the node directory',
      're-run provisioning',
    );
  }
  if ((fam === 'pi5' && !(await has('config.txt'))) || dtbs.length === 0) {
    add(
      'error',
      'NO_DTB',
      fam === 'pi5'
        ? 'a Pi 5 only keeps its TFTP prefix when config.txt and a bcm2712 device tree are in the directory'
        : `no ${DTB_PREFIX[fam]}*.dtb device tree in the node directory`,
      'use an image whose boot partition carries the device trees for this model',
    );
  }

  const config = (await readTextIfExists(join(t.tftpDir, 'config.txt'))) ?? '';
  if (Buffer.byteLength(config) > CONFIG_TXT_MAX_BYTES) {
    add(
      'error',
      'CONFIG_TOO_LARGE',
      `config.txt is ${Buffer.byteLength(config)} bytes; the netboot firmware ignores everything after ${CONFIG_TXT_MAX_BYTES}`,
      'remove comments/unused settings (patchConfigTxt does this) or move settings to an included file',
    );
  }
  const values = configValues(config, FILTERS[fam]);
  const kernel = values.get('kernel');
  const candidates = kernel
    ? [kernel]
    : fam === 'pi5'
      ? ['kernel_2712.img', 'kernel8.img']
      : fam === 'pi4'
        ? ['kernel8.img', 'kernel7l.img']
        : fam === 'pi3'
          ? ['kernel8.img', 'kernel7.img']
          : ['kernel_2712.img', 'kernel8.img', 'kernel7l.img', 'kernel7.img', 'kernel.img'];
  let kernelFound = false;
  for (const k of candidates) if (await has(k)) kernelFound = true;
  if (!kernelFound) {
    add(
      'error',
      'NO_KERNEL',
      `kernel ${candidates.join(' or ')} (from config.txt) is not in the node directory`,
      kernel
        ? `fix kernel=${kernel} in config.txt or add the file`
        : 'use an image with a kernel for this model',
    );
  }

  const cmdline = await readTextIfExists(join(t.tftpDir, 'cmdline.txt'));
  if (cmdline === undefined) {
    add('error', 'NO_CMDLINE', 'cmdline.txt missing in the node directory', 're-run provisioning');
  } else {
    if (cmdline.replace(/\n$/, '').includes('\n')) {
      add(
        'error',
        'CMDLINE_MULTILINE',
        'cmdline.txt has more than one line (only the first reaches the kernel)',
        'join it into one line (patchCmdline)',
      );
    }
    const nfs = parseNfsRoot(cmdline);
    if (!/(^|\s)root=\/dev\/nfs(\s|$)/.test(cmdline) || !nfs) {
      add(
        'error',
        'CMDLINE_NOT_NFS',
        'cmdline.txt does not boot from NFS (no root=/dev/nfs nfsroot=…)',
        'patch it with patchCmdline',
      );
    } else {
      const st = await stat(nfs.path).catch(() => undefined);
      if (!st?.isDirectory()) {
        add(
          'error',
          'NFSROOT_MISSING',
          `nfsroot path ${nfs.path} does not exist on this server`,
          're-run provisioning for this node',
        );
      } else if (
        !(await exists(join(nfs.path, 'etc/os-release'))) &&
        !(await exists(join(nfs.path, 'usr/lib/os-release')))
      ) {
        add(
          'error',
          'NFSROOT_EMPTY',
          `nfsroot path ${nfs.path} is not a root file system`,
          're-clone the node root',
        );
      }
      if (o.exportedPaths && !o.exportedPaths.includes(nfs.path)) {
        add(
          'error',
          'NFSROOT_NOT_EXPORTED',
          `nfsroot path ${nfs.path} is not exported`,
          'regenerate and apply the exports (exportsFile / ganeshaConfig)',
        );
      }
      const vers = nfs.options.find((x) => x.startsWith('vers='))?.slice(5) ?? '';
      const initramfsOff = values.get('auto_initramfs') === '0';
      if (t.usesInitramfs && !initramfsOff && !['2', '3'].includes(vers)) {
        add(
          'error',
          'NFS_VERSION_INITRAMFS',
          `nfsroot asks for NFS vers=${vers || '(default)'} but this ${t.release.codename} image boots through an initramfs whose nfsmount only accepts vers=2|3`,
          'use nfsVersion 3, or switch the initramfs off (auto_initramfs=0) to use 4.1',
        );
      }
      if (t.usesInitramfs && !initramfsOff && nfs.options.some((x) => x.startsWith('proto='))) {
        add(
          'error',
          'NFS_PROTO_INITRAMFS',
          'nfsroot has proto=, which the initramfs nfsmount rejects',
          'remove proto= (TCP is the default)',
        );
      }
    }
  }

  const fstab = await readTextIfExists(join(t.rootPath, 'etc/fstab'));
  if (fstab !== undefined) {
    for (const l of sdCardLines(fstab)) {
      add(
        'error',
        'FSTAB_SD_CARD',
        `fstab still mounts an SD-card partition: '${l.trim()}' (boot waits for it, then drops to emergency mode)`,
        'patch fstab with patchFstab',
      );
    }
  }
  if (!t.node.user && Number(t.release.version) >= 11) {
    const userconf = await exists(join(t.tftpDir, 'userconf.txt'));
    if (!userconf) {
      add(
        'warning',
        'NO_USER',
        `no user configured: ${t.release.codename} images have no usable default login (the first user is locked until userconf.txt or the first-boot wizard sets one)`,
        'set user and password/passwordHash (and sshKeys) in the node spec',
      );
    }
  }
  const hn = (await readTextIfExists(join(t.rootPath, 'etc/hostname')))?.trim();
  if (hn !== t.hostname) {
    add(
      'error',
      'HOSTNAME_MISMATCH',
      `/etc/hostname is '${hn ?? '(missing)'}', expected '${t.hostname}'`,
      're-run provisioning (setHostname)',
    );
  }
  return out;
}

/** checkNode for every node plus cluster-wide uniqueness of hostnames, serials, MACs, TFTP dirs and addresses. */
export async function checkNodes(
  targets: readonly CheckTarget[],
  o: CheckOptions = {},
): Promise<CheckProblem[]> {
  const out: CheckProblem[] = [];
  for (const t of targets) out.push(...(await checkNode(t, o)));
  const dup = (what: string, key: (t: CheckTarget) => string | undefined) => {
    const seen = new Map<string, string>();
    for (const t of targets) {
      const k = key(t);
      if (k === undefined) continue;
      const prev = seen.get(k);
      if (prev !== undefined) {
        out.push({
          node: t.hostname,
          severity: 'error',
          code: `DUPLICATE_${what.toUpperCase().replace(/ /g, '_')}`,
          message: `${what} '${k}' is also used by ${prev}`,
          fix: `give every node its own ${what}`,
        });
      } else seen.set(k, t.hostname);
    }
  };
  dup('hostname', (t) => t.hostname);
  dup('serial', (t) => t.node.serial);
  dup('mac', (t) => t.node.mac);
  dup('tftp directory', (t) => t.tftpDir);
  dup('address', (t) => t.node.address);
  return out;
}
