import { Ipv4Schema, MacSchema, PI_MODELS, SerialSchema } from '@bramble/pi';
import { z } from 'zod';
import { BootTreeError } from './errors.js';
import { HOST_KEY_TYPES } from './personalise/openssh-key.js';
import { ScratchSpec } from './personalise/scratch.js';
import { ROOT_MODES } from './shared-root/layer.js';

export const NFS_VERSIONS = ['3', '4', '4.1', '4.2'] as const;
export type NfsVersion = (typeof NFS_VERSIONS)[number];

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
    serial: SerialSchema.optional(),
    mac: MacSchema.optional(),
    /** Name of the extracted image (a directory name in the image store). */
    image: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'image name must be a plain directory name'),
    model: z.enum(PI_MODELS).optional(),
    /** The node's IPv4 address; NFS exports are scoped to it. */
    address: Ipv4Schema.optional(),
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
    /**
     * SSH host key types made for the node (default ed25519, ecdsa, rsa: what Raspberry Pi OS makes).
     * Leaving out rsa makes provisioning faster (RSA-3072 generation is most of a shared node's time).
     */
    hostKeys: z
      .array(z.enum(HOST_KEY_TYPES))
      .min(1)
      .refine((types) => new Set(types).size === types.length, 'hostKeys must not repeat a type')
      .optional(),
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
