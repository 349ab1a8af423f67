import { z } from 'zod';
import { BootTreeError } from './errors.js';
import { ScratchSpec } from './personalise/scratch.js';
import { ROOT_MODES } from './shared-root/layer.js';

/**
 * Pi serial as used for the TFTP prefix: the last 8 hex digits of /proc/cpuinfo `Serial`, lowercase,
 * zero-padded. Accepts `10000000abcd1234` / `00000000abcd1234` (16 digits, the prefix is ignored by the
 * firmware), uppercase and a `0x` prefix.
 */
export function normaliseSerial(s: string): string {
  let v = s.trim().toLowerCase();
  if (v.startsWith('0x')) v = v.slice(2);
  if (/^[0-9a-f]{16}$/.test(v) && (v.startsWith('10000000') || v.startsWith('00000000'))) v = v.slice(8);
  if (!/^[0-9a-f]{8}$/.test(v)) {
    throw new BootTreeError(
      'INVALID_SERIAL',
      `serial '${s}' is not 8 hex digits (or 16 starting with 10000000/00000000): use the last 8 digits of 'Serial' in /proc/cpuinfo, e.g. 'd9780558'`,
    );
  }
  return v;
}

/** MAC address as lowercase colon form `dc:a6:32:01:36:c2`; accepts `:`/`-`/`.` separated or bare 12 hex digits. */
export function normaliseMac(s: string): string {
  const hex = s.trim().toLowerCase().replace(/[:.-]/g, '');
  const sepOk =
    /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i.test(s.trim()) ||
    /^[0-9a-f]{12}$/i.test(s.trim()) ||
    /^([0-9a-f]{4}\.){2}[0-9a-f]{4}$/i.test(s.trim());
  if (!sepOk || !/^[0-9a-f]{12}$/.test(hex)) {
    throw new BootTreeError(
      'INVALID_MAC',
      `MAC address '${s}' is not 6 hex octets, e.g. 'dc:a6:32:01:36:c2'`,
    );
  }
  return hex.match(/../g)!.join(':');
}

/** TFTP directory name for a MAC, as the Pi 4/5 bootloader requests it with TFTP_PREFIX=2: `dc-a6-32-01-36-c2`. */
export function macDirName(mac: string): string {
  return normaliseMac(mac).replaceAll(':', '-');
}

export const PI_MODELS = ['pi3b', 'pi3b+', 'pi4', 'pi400', 'cm4', 'pi5', 'pi500', 'cm5'] as const;
export type PiModelName = (typeof PI_MODELS)[number];

export const NFS_VERSIONS = ['3', '4', '4.1', '4.2'] as const;
export type NfsVersion = (typeof NFS_VERSIONS)[number];

const ipv4 = z
  .string()
  .regex(
    /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/,
    'expected an IPv4 address',
  );

const serialSchema = z.string().transform((v, ctx) => {
  try {
    return normaliseSerial(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

const macSchema = z.string().transform((v, ctx) => {
  try {
    return normaliseMac(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

/** A node (one Pi) of the bramble. Validate outside input with `NodeSpec.parse()` or `parseNodeSpec()`. */
export const NodeSpec = z
  .object({
    /** RFC 1123 host label: lowercase letters, digits, '-', at most 63 characters. */
    hostname: z
      .string()
      .regex(
        /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
        'hostname must be a lowercase RFC 1123 label (a-z, 0-9, -)',
      ),
    serial: serialSchema.optional(),
    mac: macSchema.optional(),
    /** Name of the extracted image (a directory name in the image store). */
    image: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'image name must be a plain directory name'),
    model: z.enum(PI_MODELS).optional(),
    /** The node's IPv4 address; NFS exports are scoped to it. */
    address: ipv4.optional(),
    /** Login user written into the root (or userconf.txt); Raspberry Pi OS rules: ^[a-z][a-z0-9-]*$, ≤ 32, not root. */
    user: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,31}$/, 'user must match ^[a-z][a-z0-9-]*$ (at most 32 characters)')
      .refine((u) => u !== 'root', 'user must not be root')
      .optional(),
    /** crypt(3) hash (`$6$…` SHA-512 preferred, `$5$`/`$y$` accepted). */
    passwordHash: z
      .string()
      .regex(
        /^\$(6|5|y)\$[^\s:]+$/,
        'passwordHash must be a crypt hash like $6$salt$hash (openssl passwd -6)',
      )
      .optional(),
    /** Plain password; hashed with SHA-512 crypt at provisioning time (never stored). */
    password: z.string().min(1).max(256).optional(),
    sshKeys: z
      .array(
        z.string().regex(/^(ssh-|ecdsa-|sk-)[^\n]+$/, 'each SSH key must be one OpenSSH public key line'),
      )
      .optional(),
    nfsVersion: z.enum(NFS_VERSIONS).optional(),
    /** Block-backed scratch volume (ext4 file, loop-mounted; e.g. for containerd): see personalise/scratch.ts. */
    scratch: ScratchSpec.optional(),
    /** TFTP directory naming: by serial (firmware default) or by MAC (EEPROM TFTP_PREFIX=2). */
    tftpPrefix: z.enum(['serial', 'mac']).optional(),
    /** Root mode: 'copy' (default, own full root), 'shared' (read-only image base + per-node overlay on an ext4 volume), 'shared-tmpfs' (overlay upper in RAM: stateless). */
    root: z.enum(ROOT_MODES).optional(),
  })
  .strict()
  .refine((n) => n.serial !== undefined || n.mac !== undefined, {
    message: 'a node needs a serial or a MAC address (the TFTP directory is named after one of them)',
  })
  .refine((n) => n.tftpPrefix !== 'mac' || n.mac !== undefined, { message: "tftpPrefix 'mac' needs mac" })
  .refine((n) => n.tftpPrefix !== 'serial' || n.serial !== undefined, {
    message: "tftpPrefix 'serial' needs serial",
  })
  .refine((n) => n.password === undefined || n.passwordHash === undefined, {
    message: 'give either password or passwordHash, not both',
  })
  .refine((n) => (n.password === undefined && n.passwordHash === undefined) || n.user !== undefined, {
    message: 'a password needs a user',
  });

export type NodeSpec = z.output<typeof NodeSpec>;
export type NodeSpecInput = z.input<typeof NodeSpec>;

/** Parse outside input into a NodeSpec; throws BootTreeError('INVALID_SPEC') listing every problem. */
export function parseNodeSpec(input: unknown): NodeSpec {
  const r = NodeSpec.safeParse(input);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.join('.') || '(node)'}: ${i.message}`);
    throw new BootTreeError('INVALID_SPEC', `invalid node spec: ${lines.join('; ')}`, { cause: r.error });
  }
  return r.data;
}

/** The node's TFTP directory name: its serial (default when known) or its MAC as `dc-a6-32-01-36-c2`. */
export function tftpDirName(node: NodeSpec): string {
  const byMac = node.tftpPrefix === 'mac' || (node.tftpPrefix === undefined && node.serial === undefined);
  if (byMac) return macDirName(node.mac!);
  return node.serial!;
}
