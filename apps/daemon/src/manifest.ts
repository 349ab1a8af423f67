/**
 * The cluster manifest (`bramble.yaml`): its zod schema, loading with every problem listed by
 * path, and the JSON Schema for editors. Shared by the daemon and the CLI (which imports it from
 * 'brambled').
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import {
  NFS_VERSIONS,
  normaliseMac,
  normaliseSerial,
  PI_MODELS,
  ROOT_MODES,
  ScratchSpec,
} from '@bramble/boot-tree';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { BrambledError } from './errors.js';

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^(?=.{1,63}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export const Ipv4 = z.string().regex(IPV4, 'expected an IPv4 address like 192.168.1.10');

/** A listen address `ADDR:PORT` (or just `PORT`), parsed to `{ address, port }`. */
export const ListenAddress = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const s = String(v);
  const m = /^(?:(.+):)?(\d{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : Number.NaN;
  const address = m?.[1] ?? '0.0.0.0';
  if (!m || port > 65535 || !IPV4.test(address)) {
    ctx.addIssue({ code: 'custom', message: 'expected ADDR:PORT like 0.0.0.0:69 or a port number' });
    return z.NEVER;
  }
  return { address, port };
});
export type ListenAddress = z.output<typeof ListenAddress>;

/**
 * A Pi serial: 8 hex digits as the firmware uses them in TFTP paths. `10000000xxxxxxxx` (from
 * /proc/cpuinfo), uppercase and `0x` forms are accepted and normalised to 8 lowercase digits.
 */
export const Serial = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return normaliseSerial(String(v));
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected 8 hex digits' });
    return z.NEVER;
  }
});

/** A MAC address in any of the usual spellings, normalised to `dc:a6:32:01:36:c2`. */
export const Mac = z.string().transform((v, ctx) => {
  try {
    return normaliseMac(v);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected a MAC address like dc:a6:32:01:36:c2' });
    return z.NEVER;
  }
});

/** Models and NFS versions come from @bramble/boot-tree, which owns the node concept. */
export const PiModelName = z.enum(PI_MODELS);
export type PiModelName = z.output<typeof PiModelName>;

export const NfsVersion = z.enum(NFS_VERSIONS);

export const ManifestNode = z
  .object({
    hostname: z.string().regex(HOSTNAME, 'expected a lowercase hostname (letters, digits, -)'),
    serial: Serial.optional(),
    mac: Mac.optional(),
    model: PiModelName.optional(),
    image: z.string().min(1, 'expected an image name from `images`'),
    address: Ipv4.optional(),
    user: z
      .object({
        name: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'expected a Linux user name'),
        passwordHash: z.string().startsWith('$', 'expected a crypt hash such as $6$...').optional(),
      })
      .strict()
      .optional(),
    sshKeys: z
      .array(z.string().regex(/^(ssh|ecdsa|sk)-\S+ \S+/, 'expected an OpenSSH public key'))
      .optional(),
    nfsVersion: NfsVersion.optional(),
    /** Block-backed scratch volume (ext4 file, loop-mounted at `path`), the rule lives in @bramble/boot-tree. */
    scratch: ScratchSpec.optional(),
    /** Root mode (copy | shared | shared-tmpfs), the rule lives in @bramble/boot-tree. */
    root: z.enum(ROOT_MODES).optional(),
  })
  .strict()
  .refine((n) => n.serial !== undefined || n.mac !== undefined, {
    message: 'a node needs a serial or a mac',
    path: ['serial'],
  });
export type ManifestNode = z.output<typeof ManifestNode>;

/**
 * Checks across nodes (unique hostnames/serials/MACs, images that exist). They run on the raw
 * input too, so an invalid manifest still gets them listed with its other problems.
 */
function crossProblems(m: unknown): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  if (typeof m !== 'object' || m === null) return out;
  const { images, nodes } = m as { images?: unknown; nodes?: unknown };
  if (!Array.isArray(nodes)) return out;
  const imageNames = typeof images === 'object' && images !== null ? Object.keys(images) : [];
  const seen = {
    hostname: new Map<string, number>(),
    serial: new Map<string, number>(),
    mac: new Map<string, number>(),
  };
  nodes.forEach((raw: unknown, i) => {
    if (typeof raw !== 'object' || raw === null) return;
    const n = raw as Record<string, unknown>;
    if (typeof n.image === 'string' && n.image !== '' && !imageNames.includes(n.image))
      out.push({
        path: ['nodes', i, 'image'],
        message: `unknown image '${n.image}' (known: ${imageNames.join(', ') || 'none'})`,
      });
    const norm = {
      hostname: typeof n.hostname === 'string' ? n.hostname : undefined,
      serial: Serial.safeParse(n.serial).data,
      mac: Mac.safeParse(n.mac).data,
    };
    for (const key of ['hostname', 'serial', 'mac'] as const) {
      const v = norm[key];
      if (v === undefined) continue;
      const first = seen[key].get(v);
      if (first !== undefined)
        out.push({ path: ['nodes', i, key], message: `duplicate ${key} '${v}' (also nodes[${first}])` });
      else seen[key].set(v, i);
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
      .refine((t) => !(t.engine === 'native' && t.singlePort), {
        message: "engine 'native' needs per-transfer ports: use 'auto' or 'js' with singlePort",
        path: ['engine'],
      })
      .default({ listen: { address: '0.0.0.0', port: 69 }, singlePort: false, engine: 'auto' }),
    dhcp: z
      .object({
        mode: z.enum(['external', 'proxy']).default('external'),
        listen: z.string().optional(),
        port: z.number().int().min(1).max(65535).optional(),
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
    images: z.record(z.string().regex(/^[a-zA-Z0-9._-]+$/, 'expected an image name'), z.string()).default({}),
    nodes: z.array(ManifestNode).default([]),
  })
  .strict()
  .superRefine((m, ctx) => {
    for (const p of crossProblems(m)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  });
export type Manifest = z.output<typeof Manifest>;
export type ManifestInput = z.input<typeof Manifest>;

/** A validated manifest with its paths made absolute (relative to the manifest file). */
export interface LoadedManifest {
  path: string;
  manifest: Manifest;
  stateDir: string;
  tftpRoot: string;
  nfsRoot: string;
  imagesDir: string;
  /** image name -> absolute image file path */
  imageFiles: Record<string, string>;
  /** sha256 of the manifest text this was loaded from (reloads compare it). */
  hash?: string;
}

/** One problem in a manifest, by path: `nodes[2].serial: expected 8 hex digits`. */
export interface ManifestProblem {
  path: string;
  message: string;
}

export class ManifestError extends BrambledError {
  constructor(
    readonly file: string,
    readonly problems: ManifestProblem[],
  ) {
    super(
      'INVALID_MANIFEST',
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems
        .map((p) => `  ${p.path ? `${p.path}: ` : ''}${p.message}`)
        .join('\n')}`,
    );
  }
}

/** `['nodes', 2, 'serial']` -> `nodes[2].serial` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function zodProblems(err: z.ZodError): ManifestProblem[] {
  const out: ManifestProblem[] = [];
  const walk = (issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[]) => {
    for (const i of issues) {
      if (i.code === 'invalid_union' && i.errors.length > 0) {
        // Report the branch that got furthest rather than "invalid input".
        const best = [...i.errors].sort((a, b) => a.length - b.length)[0];
        if (best && best.length > 0) {
          walk(best, [...prefix, ...i.path]);
          continue;
        }
      }
      if (i.code === 'unrecognized_keys') {
        for (const k of i.keys)
          out.push({
            path: formatPath([...prefix, ...i.path, k]),
            message: 'unknown key (check the spelling)',
          });
        continue;
      }
      out.push({ path: formatPath([...prefix, ...i.path]), message: i.message });
    }
  };
  walk(err.issues, []);
  return out;
}

/** Validate an already-parsed manifest object. */
export function parseManifest(data: unknown, file = 'bramble.yaml'): Manifest {
  const r = Manifest.safeParse(data ?? {});
  if (!r.success) {
    const problems = zodProblems(r.error);
    for (const p of crossProblems(data)) {
      const path = formatPath(p.path);
      if (!problems.some((q) => q.path === path && q.message === p.message))
        problems.push({ path, message: p.message });
    }
    throw new ManifestError(file, problems);
  }
  return r.data;
}

/** Parse manifest YAML text; YAML syntax errors are reported with line and column. */
export function parseManifestText(text: string, file = 'bramble.yaml'): Manifest {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0)
    throw new ManifestError(
      file,
      doc.errors.map((e) => ({
        path: e.linePos?.[0] ? `line ${e.linePos[0].line}:${e.linePos[0].col}` : '',
        message: e.message.split('\n')[0] ?? e.message,
      })),
    );
  return parseManifest(doc.toJS(), file);
}

/** Resolve the manifest's paths against the directory the manifest lives in. */
export function resolveManifest(manifest: Manifest, path: string): LoadedManifest {
  const base = dirname(resolve(path));
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const stateDir = abs(manifest.stateDir);
  const imageFiles: Record<string, string> = {};
  for (const [name, file] of Object.entries(manifest.images)) imageFiles[name] = abs(file);
  return {
    path: resolve(path),
    manifest,
    stateDir,
    tftpRoot: resolve(stateDir, 'tftp'),
    nfsRoot: manifest.nfs.root ? abs(manifest.nfs.root) : resolve(stateDir, 'nfs'),
    imagesDir: resolve(stateDir, 'images'),
    imageFiles,
  };
}

/** Read, parse and validate `bramble.yaml`; throws ManifestError listing every problem by path. */
export async function loadManifest(path: string): Promise<LoadedManifest> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ManifestError(path, [{ path: '', message: `cannot read: ${(e as Error).message}` }]);
  }
  return {
    ...resolveManifest(parseManifestText(text, path), path),
    hash: createHash('sha256').update(text).digest('hex'),
  };
}

/** The manifest's JSON Schema (draft 2020-12), for editors: `bramble schema > bramble.schema.json`. */
export function manifestJsonSchema(): object {
  return z.toJSONSchema(Manifest, { io: 'input', unrepresentable: 'any' });
}
