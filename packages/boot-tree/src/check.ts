/**
 * Node checks as a list of named rules. `gatherFacts` reads once what a Pi will look for (TFTP
 * directory, config.txt, cmdline.txt, NFS root); every rule is a pure function of those facts that
 * returns the problems it finds, with its own code, severity and fix. The Pi facts (model table,
 * config.txt and cmdline.txt as the firmware reads them) come from @bramble/pi.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  type Cmdline,
  CONFIG_TXT_LIMIT,
  type ConfigTxt,
  definedOnly,
  initramfsNfsProblems,
  PI_MODEL_TABLE,
  PI_MODELS,
  type PiFamily,
  type PiModelInfo,
  parseCmdline,
  parseConfigTxt,
  parseTftpPath,
  piModel,
} from '@bramble/pi';
import { exists, readTextIfExists } from './fs-util.js';
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

/** Everything the rules look at, read once per node. */
export interface NodeFacts {
  target: CheckTarget;
  options: CheckOptions;
  /** The model table row, when the node names its model. */
  model: PiModelInfo | undefined;
  family: PiFamily | 'unknown';
  bootcodeAtRoot: boolean;
  /** The TFTP directory is named by MAC (`dc-a6-32-01-36-c2`). */
  dirByMac: boolean;
  dirExists: boolean;
  /** Files in the TFTP directory (top level). */
  files: ReadonlySet<string>;
  configText: string;
  /** config.txt as this board's firmware reads it (its filters, its serial section, the 4 KiB limit). */
  config: ConfigTxt;
  cmdlineText: string | undefined;
  cmdline: Cmdline | undefined;
  nfsRoot: { path: string; isDirectory: boolean; isRootFs: boolean } | undefined;
  fstab: string | undefined;
  hostnameFile: string | undefined;
}

/** A named check: the problems it finds in a node's facts, and what to do about them. */
export interface CheckRule {
  code: string;
  severity: CheckProblem['severity'] | ((facts: NodeFacts) => CheckProblem['severity']);
  /** Messages, one per problem; empty when the rule passes. */
  find(facts: NodeFacts): string[];
  fix: string | ((facts: NodeFacts) => string);
}

const when = (condition: boolean, message: () => string): string[] => (condition ? [message()] : []);

/** Every kernel name some model's firmware tries (for a node whose model is not given). */
const ANY_MODEL_KERNELS = [
  ...new Set(
    PI_MODELS.flatMap((name) => [
      ...PI_MODEL_TABLE[name].files.kernel64,
      ...PI_MODEL_TABLE[name].files.kernel32,
    ]),
  ),
];

/** Kernel files the firmware would try: `kernel=` from config.txt, else the model's defaults. */
function kernelCandidates(facts: NodeFacts): string[] {
  if (facts.config.kernel) return [facts.config.kernel];
  const files = facts.model?.files;
  if (!files) return ANY_MODEL_KERNELS;
  const arm64 = facts.config.arm64 ?? files.arm64Default;
  return [...(arm64 ? files.kernel64 : files.kernel32)];
}

/** The device trees that would do: config.txt's device_tree=, the model's, or any bcm27* when unknown. */
function deviceTrees(facts: NodeFacts): string[] {
  const wanted = facts.config.deviceTree ?? facts.model?.files.dtb;
  if (wanted) return facts.files.has(wanted) ? [wanted] : [];
  return [...facts.files].filter((file) => file.startsWith('bcm27') && file.endsWith('.dtb'));
}

const initramfsOn = (facts: NodeFacts) =>
  facts.target.usesInitramfs && facts.config.settings.get('auto_initramfs') !== '0';

const nfsBoot = (facts: NodeFacts) =>
  facts.cmdline?.root === '/dev/nfs' && facts.cmdline.nfsroot !== undefined
    ? facts.cmdline.nfsroot
    : undefined;

/** Rules that need no node directory. */
export const DIRECTORY_RULES: readonly CheckRule[] = [
  {
    code: 'NO_BOOTCODE',
    severity: (facts) => (facts.family === 'pi3' ? 'error' : 'warning'),
    find: (facts) =>
      when(
        !facts.bootcodeAtRoot && (facts.family === 'pi3' || facts.family === 'unknown'),
        () =>
          `bootcode.bin is missing from the TFTP root ${facts.target.tftpRoot} (the Pi 3 boot ROM asks for it there)`,
      ),
    fix: 'copy bootcode.bin from the image boot partition into the TFTP root (re-run provisioning)',
  },
  {
    code: 'PI3_NEEDS_SERIAL',
    severity: 'error',
    find: (facts) =>
      when(
        facts.dirByMac && facts.model !== undefined && !facts.model.boot.tftpPrefixes.includes('mac'),
        () =>
          `the node directory is named by MAC (${basename(facts.target.tftpDir)}) but ${facts.model?.name} firmware only looks for <serial>/`,
      ),
    fix: "give the node its serial and tftpPrefix 'serial'",
  },
  {
    code: 'MAC_PREFIX_NEEDS_EEPROM',
    severity: 'warning',
    find: (facts) =>
      when(
        facts.dirByMac && (facts.model === undefined || facts.model.boot.tftpPrefixes.includes('mac')),
        () =>
          `the node directory is named by MAC (${basename(facts.target.tftpDir)}); the Pi only asks for it with TFTP_PREFIX=2`,
      ),
    fix: 'set TFTP_PREFIX=2 in the bootloader EEPROM config (rpi-eeprom-config --edit), or use the serial',
  },
];

/** Rule that stops the others when it fails: without a node directory nothing else can be checked. */
export const NODE_DIR_RULE: CheckRule = {
  code: 'NO_NODE_DIR',
  severity: 'error',
  find: (facts) => when(!facts.dirExists, () => `TFTP directory ${facts.target.tftpDir} does not exist`),
  fix: 'run provisioning for this node',
};

/** Rules about the node directory, config.txt, cmdline.txt and the NFS root. */
export const NODE_RULES: readonly CheckRule[] = [
  {
    code: 'NO_FIRMWARE',
    severity: 'error',
    find: (facts) => {
      const files = facts.model?.files;
      if (files?.start !== undefined && files.fixup !== undefined) {
        const start = facts.config.startFile ?? files.start;
        const fixup = facts.config.fixupFile ?? files.fixup;
        return when(
          !facts.files.has(start) || !facts.files.has(fixup),
          () => `${start}/${fixup} missing in the node directory`,
        );
      }
      return when(
        facts.model === undefined &&
          !['start4.elf', 'start.elf', 'config.txt'].some((f) => facts.files.has(f)),
        () => 'no start*.elf and no config.txt in the node directory',
      );
    },
    fix: (facts) => (facts.model ? `use an image with ${facts.model.name} firmware` : 're-run provisioning'),
  },
  {
    code: 'NO_DTB',
    severity: 'error',
    find: (facts) => {
      if (facts.family === 'pi5' && !facts.files.has('config.txt')) {
        return [
          'a Pi 5 only keeps its TFTP prefix when config.txt and a bcm2712 device tree are in the directory',
        ];
      }
      return when(
        deviceTrees(facts).length === 0,
        () =>
          `no device tree ${facts.config.deviceTree ?? facts.model?.files.dtb ?? 'bcm27*.dtb'} in the node directory`,
      );
    },
    fix: 'use an image whose boot partition carries the device trees for this model',
  },
  {
    code: 'CONFIG_TOO_LARGE',
    severity: 'error',
    find: (facts) => {
      const bytes = Buffer.byteLength(facts.configText);
      return when(
        bytes > CONFIG_TXT_LIMIT,
        () =>
          `config.txt is ${bytes} bytes; the netboot firmware ignores everything after ${CONFIG_TXT_LIMIT}`,
      );
    },
    fix: 'remove comments/unused settings (patchConfigTxt does this) or move settings to an included file',
  },
  {
    code: 'NO_KERNEL',
    severity: 'error',
    find: (facts) => {
      const candidates = kernelCandidates(facts);
      return when(
        !candidates.some((file) => facts.files.has(file)),
        () => `kernel ${candidates.join(' or ')} (from config.txt) is not in the node directory`,
      );
    },
    fix: (facts) =>
      facts.config.kernel
        ? `fix kernel=${facts.config.kernel} in config.txt or add the file`
        : 'use an image with a kernel for this model',
  },
  {
    code: 'NO_CMDLINE',
    severity: 'error',
    find: (facts) => when(facts.cmdlineText === undefined, () => 'cmdline.txt missing in the node directory'),
    fix: 're-run provisioning',
  },
  {
    code: 'CMDLINE_MULTILINE',
    severity: 'error',
    find: (facts) =>
      when(
        facts.cmdlineText?.replace(/\n$/, '').includes('\n') === true,
        () => 'cmdline.txt has more than one line (only the first reaches the kernel)',
      ),
    fix: 'join it into one line (patchCmdline)',
  },
  {
    code: 'CMDLINE_NOT_NFS',
    severity: 'error',
    find: (facts) =>
      when(
        facts.cmdlineText !== undefined && nfsBoot(facts) === undefined,
        () => 'cmdline.txt does not boot from NFS (no root=/dev/nfs nfsroot=…)',
      ),
    fix: 'patch it with patchCmdline',
  },
  {
    code: 'NFSROOT_MISSING',
    severity: 'error',
    find: (facts) =>
      when(
        facts.nfsRoot !== undefined && !facts.nfsRoot.isDirectory,
        () => `nfsroot path ${facts.nfsRoot?.path} does not exist on this server`,
      ),
    fix: 're-run provisioning for this node',
  },
  {
    code: 'NFSROOT_EMPTY',
    severity: 'error',
    find: (facts) =>
      when(
        facts.nfsRoot?.isDirectory === true && !facts.nfsRoot.isRootFs,
        () => `nfsroot path ${facts.nfsRoot?.path} is not a root file system`,
      ),
    fix: 're-clone the node root',
  },
  {
    code: 'NFSROOT_NOT_EXPORTED',
    severity: 'error',
    find: (facts) => {
      const exported = facts.options.exportedPaths;
      const path = facts.nfsRoot?.path;
      return when(
        exported !== undefined && path !== undefined && !exported.includes(path),
        () => `nfsroot path ${path} is not exported`,
      );
    },
    fix: 'regenerate and apply the exports (exportsFile / ganeshaConfig)',
  },
  {
    code: 'NFS_VERSION_INITRAMFS',
    severity: 'error',
    find: (facts) => {
      const nfsroot = nfsBoot(facts);
      return when(
        nfsroot !== undefined && initramfsOn(facts) && initramfsNfsProblems(nfsroot).version,
        () =>
          `nfsroot asks for NFS vers=${nfsroot?.version} but this ${facts.target.release.codename} image boots through an initramfs whose nfsmount only accepts vers=2|3`,
      );
    },
    fix: 'use nfsVersion 3, or switch the initramfs off (auto_initramfs=0) to use 4.1',
  },
  {
    code: 'NFS_PROTO_INITRAMFS',
    severity: 'error',
    find: (facts) => {
      const nfsroot = nfsBoot(facts);
      return when(
        nfsroot !== undefined && initramfsOn(facts) && initramfsNfsProblems(nfsroot).proto,
        () => 'nfsroot has proto=, which the initramfs nfsmount rejects',
      );
    },
    fix: 'remove proto= (TCP is the default)',
  },
  {
    code: 'FSTAB_SD_CARD',
    severity: 'error',
    find: (facts) =>
      sdCardLines(facts.fstab ?? '').map(
        (line) =>
          `fstab still mounts an SD-card partition: '${line.trim()}' (boot waits for it, then drops to emergency mode)`,
      ),
    fix: 'patch fstab with patchFstab',
  },
  {
    code: 'NO_USER',
    severity: 'warning',
    find: (facts) =>
      when(
        !facts.target.node.user &&
          Number(facts.target.release.version) >= 11 &&
          !facts.files.has('userconf.txt'),
        () =>
          `no user configured: ${facts.target.release.codename} images have no usable default login (the first user is locked until userconf.txt or the first-boot wizard sets one)`,
      ),
    fix: 'set user and password/passwordHash (and sshKeys) in the node spec',
  },
  {
    code: 'HOSTNAME_MISMATCH',
    severity: 'error',
    find: (facts) =>
      when(
        facts.hostnameFile !== facts.target.hostname,
        () => `/etc/hostname is '${facts.hostnameFile ?? '(missing)'}', expected '${facts.target.hostname}'`,
      ),
    fix: 're-run provisioning (setHostname)',
  },
];

/** Read what the rules look at. */
export async function gatherFacts(target: CheckTarget, options: CheckOptions = {}): Promise<NodeFacts> {
  const model = target.node.model === undefined ? undefined : piModel(target.node.model);
  const dirExists = await exists(target.tftpDir);
  const files = new Set(dirExists ? await readdir(target.tftpDir).catch(() => [] as string[]) : []);
  const configText = (await readTextIfExists(join(target.tftpDir, 'config.txt'))) ?? '';
  const config = parseConfigTxt(configText, {
    filters: model?.configFilters ?? [],
    ...definedOnly({ serial: target.node.serial }),
  });
  const cmdlineText = await readTextIfExists(join(target.tftpDir, 'cmdline.txt'));
  const cmdline = cmdlineText === undefined ? undefined : parseCmdline(cmdlineText);
  const facts: NodeFacts = {
    target,
    options,
    model,
    family: model?.family ?? 'unknown',
    bootcodeAtRoot: await exists(join(target.tftpRoot, 'bootcode.bin')),
    dirByMac: parseTftpPath(`${basename(target.tftpDir)}/`).prefix?.kind === 'mac',
    dirExists,
    files,
    configText,
    config,
    cmdlineText,
    cmdline,
    nfsRoot: undefined,
    fstab: await readTextIfExists(join(target.rootPath, 'etc/fstab')),
    hostnameFile: (await readTextIfExists(join(target.rootPath, 'etc/hostname')))?.trim(),
  };
  const nfsroot = nfsBoot(facts);
  if (nfsroot) {
    const isDirectory = (await stat(nfsroot.path).catch(() => undefined))?.isDirectory() === true;
    const isRootFs =
      isDirectory &&
      ((await exists(join(nfsroot.path, 'etc/os-release'))) ||
        (await exists(join(nfsroot.path, 'usr/lib/os-release'))));
    facts.nfsRoot = { path: nfsroot.path, isDirectory, isRootFs };
  }
  return facts;
}

/** Apply rules to facts. */
export function runRules(facts: NodeFacts, rules: readonly CheckRule[]): CheckProblem[] {
  return rules.flatMap((rule) =>
    rule.find(facts).map((message) => ({
      node: facts.target.hostname,
      severity: typeof rule.severity === 'function' ? rule.severity(facts) : rule.severity,
      code: rule.code,
      message,
      fix: typeof rule.fix === 'function' ? rule.fix(facts) : rule.fix,
    })),
  );
}

/**
 * Check that everything a node's Pi looks for is where it will look: bootcode.bin at the TFTP root,
 * firmware (start*.elf + fixup, or config.txt + dtb on a Pi 5) in its directory, the kernel config.txt
 * names, config.txt under 4 KiB, cmdline pointing at an existing (exported) NFS root with an NFS version
 * the release's initramfs can mount, no SD-card lines in fstab, /etc/hostname matching the spec.
 */
export async function checkNode(target: CheckTarget, options: CheckOptions = {}): Promise<CheckProblem[]> {
  const facts = await gatherFacts(target, options);
  const problems = runRules(facts, [...DIRECTORY_RULES, NODE_DIR_RULE]);
  if (!facts.dirExists) return problems;
  return [...problems, ...runRules(facts, NODE_RULES)];
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
