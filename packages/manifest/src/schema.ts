/**
 * The cluster manifest (`bramble.yaml`) as zod schemas. A node's fields and their rules come from
 * @bramble/boot-tree's `NodeSpec` (the one definition of a node); the manifest only groups the
 * login user as `user: { name, passwordHash }` and accepts an unquoted YAML number as a serial.
 */
import { NodeSpec, type NodeSpecInput } from '@bramble/boot-tree';
import { z } from 'zod';

/** NodeSpec's field schemas, reused as they are. */
const node = NodeSpec.shape;

/** An IPv4 address (NodeSpec's rule for a node's address). */
export const Ipv4 = node.address.unwrap();

/** A listen address `ADDR:PORT` (or just `PORT`), parsed to `{ address, port }`. */
export const ListenAddress = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const match = /^(?:(.+):)?(\d{1,5})$/.exec(String(value));
  const port = match ? Number(match[2]) : Number.NaN;
  const address = match?.[1] ?? '0.0.0.0';
  if (!match || port > 65535 || !Ipv4.safeParse(address).success) {
    ctx.addIssue({ code: 'custom', message: 'expected ADDR:PORT like 0.0.0.0:69 or a port number' });
    return z.NEVER;
  }
  return { address, port };
});
export type ListenAddress = z.output<typeof ListenAddress>;

/**
 * A Pi serial (NodeSpec's rule): 8 hex digits as the firmware uses them in TFTP paths;
 * `10000000xxxxxxxx`, uppercase and `0x` forms are normalised. YAML numbers are read as text.
 */
export const Serial = z
  .union([z.string(), z.number()])
  .transform((value) => String(value))
  .pipe(node.serial.unwrap());

/** A MAC address in any of the usual spellings, normalised to `dc:a6:32:01:36:c2` (NodeSpec's rule). */
export const Mac = node.mac.unwrap();

export const PiModelName = node.model.unwrap();
export type PiModelName = z.output<typeof PiModelName>;

export const NfsVersion = node.nfsVersion.unwrap();

/** The login user of a node: NodeSpec's `user` and `passwordHash` rules (not root, crypt $6$/$5$/$y$). */
export const ManifestUser = z
  .object({
    name: node.user.unwrap(),
    passwordHash: node.passwordHash,
  })
  .strict();

export const ManifestNode = z
  .object({
    hostname: node.hostname,
    serial: Serial.optional(),
    mac: node.mac,
    model: node.model,
    image: node.image,
    address: node.address,
    user: ManifestUser.optional(),
    sshKeys: node.sshKeys,
    nfsVersion: node.nfsVersion,
    tftpPrefix: node.tftpPrefix,
    /** Block-backed scratch volume (ext4 file, loop-mounted at `path`); the rule lives in @bramble/boot-tree. */
    scratch: node.scratch,
    /** Root mode (copy | shared | shared-tmpfs); the rule lives in @bramble/boot-tree. */
    root: node.root,
    /** SSH host key types (default ed25519, ecdsa, rsa); the rule lives in @bramble/boot-tree. */
    hostKeys: node.hostKeys,
  })
  .strict()
  .superRefine((manifestNode, ctx) => {
    // NodeSpec's cross-field rules (serial or MAC, tftpPrefix needs its field) apply unchanged.
    const result = NodeSpec.safeParse(toNodeSpec(manifestNode));
    if (result.success) return;
    for (const issue of result.error.issues)
      if (issue.path.length === 0) ctx.addIssue({ code: 'custom', path: ['serial'], message: issue.message });
  });
export type ManifestNode = z.output<typeof ManifestNode>;

/** The NodeSpec input @bramble/boot-tree provisions a manifest node from. */
export function toNodeSpec(manifestNode: ManifestNode): NodeSpecInput {
  const { user, ...fields } = manifestNode;
  const spec: NodeSpecInput = { ...fields };
  if (user !== undefined) spec.user = user.name;
  if (user?.passwordHash !== undefined) spec.passwordHash = user.passwordHash;
  return spec;
}

/** Bounds of brambled's table of unknown Pis (see brambled's discovery). */
export const DiscoverySettings = z
  .object({
    /** Most unknown Pis remembered; the least recently seen is dropped beyond it. */
    maxEntries: z.number().int().min(1).max(100_000).default(1024),
    /** Forget an unknown Pi not seen for this many seconds (default 7 days). */
    expireAfterSeconds: z
      .number()
      .int()
      .min(1)
      .max(365 * 24 * 3600)
      .default(7 * 24 * 3600),
  })
  .strict();

/**
 * brambled's boot-storm pacing: how many nodes boot at once, and how the others wait. On by default
 * with a generous limit: below it every DISCOVER is answered at once, as without pacing.
 */
export const PacingSettings = z
  .object({
    enabled: z.boolean().default(true),
    /** Nodes booting at once (from the proxyDHCP offer until the kernel and initramfs are fetched). */
    maxConcurrentBoots: z.number().int().min(1).max(10_000).default(32),
    /** Of those, how many may be unknown Pis / other PXE clients. */
    maxUnknownBoots: z.number().int().min(0).max(10_000).default(4),
    /** Longest a DISCOVER's reply is held for a slot; keep it under the firmware's 4 s DHCP retry. */
    holdMs: z.number().int().min(0).max(3_500).default(3_000),
    /** An admitted node with no boot activity for this long loses its slot. */
    admitTimeoutMs: z.number().int().min(1_000).max(600_000).default(15_000),
    /** A slot is taken back after this long at the latest. */
    bootTimeoutMs: z.number().int().min(5_000).max(3_600_000).default(180_000),
    /** Quiet time after the kernel/initramfs before the slot goes back. */
    settleMs: z.number().int().min(0).max(60_000).default(1_000),
    /**
     * An unknown node's slot lasts this long (brambled cannot follow its boot), so unknown Pis start
     * at most `maxUnknownBoots` per this interval.
     */
    unknownSlotMs: z.number().int().min(1_000).max(600_000).default(5_000),
    /**
     * Admit a Pi 3 ROM above the limit when it is about to give up (it halts after 25 s without an
     * offer, until power-cycled); false keeps the limit strict and lets it halt.
     */
    rescueHalting: z.boolean().default(true),
    /** Most nodes waiting in line. */
    maxWaiting: z.number().int().min(1).max(100_000).default(4_096),
    /** A waiter not heard from for this long has given up and loses its place. */
    waitingExpireMs: z.number().int().min(5_000).max(3_600_000).default(60_000),
  })
  .strict();
export type PacingSettings = z.output<typeof PacingSettings>;

/**
 * Checks across nodes (unique hostnames/serials/MACs, images that exist). They run on the raw
 * input too, so an invalid manifest still gets them listed with its other problems.
 */
export function crossProblems(input: unknown): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  if (typeof input !== 'object' || input === null) return out;
  const { images, nodes } = input as { images?: unknown; nodes?: unknown };
  if (!Array.isArray(nodes)) return out;
  const imageNames = typeof images === 'object' && images !== null ? Object.keys(images) : [];
  const seen = {
    hostname: new Map<string, number>(),
    serial: new Map<string, number>(),
    mac: new Map<string, number>(),
  };
  nodes.forEach((raw: unknown, index) => {
    if (typeof raw !== 'object' || raw === null) return;
    const fields = raw as Record<string, unknown>;
    if (typeof fields.image === 'string' && fields.image !== '' && !imageNames.includes(fields.image))
      out.push({
        path: ['nodes', index, 'image'],
        message: `unknown image '${fields.image}' (known: ${imageNames.join(', ') || 'none'})`,
      });
    const normalised = {
      hostname: typeof fields.hostname === 'string' ? fields.hostname : undefined,
      serial: Serial.safeParse(fields.serial).data,
      mac: Mac.safeParse(fields.mac).data,
    };
    for (const key of ['hostname', 'serial', 'mac'] as const) {
      const value = normalised[key];
      if (value === undefined) continue;
      const first = seen[key].get(value);
      if (first !== undefined)
        out.push({
          path: ['nodes', index, key],
          message: `duplicate ${key} '${value}' (also nodes[${first}])`,
        });
      else seen[key].set(value, index);
    }
  });
  return out;
}

export const Manifest = z
  .object({
    version: z.literal(1).default(1),
    server: z
      .object({
        /** The address the Pis reach this server at (TFTP server in DHCP replies, NFS server in cmdline.txt). */
        address: Ipv4,
        /** Further local addresses to answer on. */
        addresses: z.array(Ipv4).optional(),
        interface: z.string().optional(),
      })
      .strict(),
    stateDir: z.string().default('/var/lib/bramble'),
    tftp: z
      .object({
        listen: ListenAddress.default({ address: '0.0.0.0', port: 69 }),
        singlePort: z.boolean().default(false),
        blksizeMax: z.number().int().min(8).max(65464).optional(),
        maxTransfers: z.number().int().positive().optional(),
        /** Data path for reads: the native pump when built ('auto'), or force 'native' / 'js'. */
        engine: z.enum(['auto', 'native', 'js']).default('auto'),
      })
      .strict()
      .refine((tftp) => !(tftp.engine === 'native' && tftp.singlePort), {
        message: "engine 'native' needs per-transfer ports: use 'auto' or 'js' with singlePort",
        path: ['engine'],
      })
      .default({ listen: { address: '0.0.0.0', port: 69 }, singlePort: false, engine: 'auto' }),
    dhcp: z
      .object({
        mode: z.enum(['external', 'proxy']).default('external'),
        listen: z.string().optional(),
        port: z.number().int().min(1).max(65535).optional(),
        /** proxyDHCP: relay agents (giaddr) answered although not on the server's subnet. */
        allowedRelays: z.array(Ipv4).optional(),
        /** For generated external configs: the subnet handed out. */
        subnet: z.string().optional(),
        rangeStart: Ipv4.optional(),
        rangeEnd: Ipv4.optional(),
        router: Ipv4.optional(),
        dns: z.array(Ipv4).optional(),
      })
      .strict()
      .default({ mode: 'external' }),
    nfs: z
      .object({
        kind: z.enum(['kernel', 'ganesha', 'compose']).default('kernel'),
        version: NfsVersion.optional(),
        /** Where the NFS roots live; default `<stateDir>/nfs`. */
        root: z.string().optional(),
      })
      .strict()
      .default({ kind: 'kernel' }),
    http: z
      .object({ listen: ListenAddress.default({ address: '127.0.0.1', port: 9469 }) })
      .strict()
      .default({ listen: { address: '127.0.0.1', port: 9469 } }),
    discovery: DiscoverySettings.default({ maxEntries: 1024, expireAfterSeconds: 7 * 24 * 3600 }),
    pacing: PacingSettings.prefault({}),
    images: z.record(node.image, z.string()).default({}),
    nodes: z.array(ManifestNode).default([]),
  })
  .strict()
  .superRefine((manifest, ctx) => {
    for (const problem of crossProblems(manifest))
      ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
  });
export type Manifest = z.output<typeof Manifest>;
export type ManifestInput = z.input<typeof Manifest>;
