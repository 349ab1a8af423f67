/**
 * The image store and node provisioning, composed from @bramble/image and @bramble/boot-tree:
 * <state>/images/<name>/{boot,root} extracted once per image, then per-node trees.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type LoadedManifest, type ManifestNode, toNodeSpec } from '@bramble/manifest';
import { definedOnly } from '@bramble/pi';
import type { Output } from './output.js';
import { loadBootTree, loadImage, type NodeLayout } from './packages.js';

export interface StoredImage {
  name: string;
  file: string;
  dir: string;
  bootDir: string;
  rootDir: string;
}

/** `<images>/<name>.current`: the store directory of the image's current base after `image update`. */
export const currentBaseFile = (manifest: LoadedManifest, name: string) =>
  join(manifest.imagesDir, `${name}.current`);

export function storedImage(manifest: LoadedManifest, name: string): StoredImage {
  const dir = join(manifest.imagesDir, currentBaseDir(manifest, name));
  return {
    name,
    file: manifest.imageFiles[name] ?? '',
    dir,
    bootDir: join(dir, 'boot'),
    rootDir: join(dir, 'root'),
  };
}

/** The image's store directory name: `<name>`, or `<name>@<time>` once `image update` replaced its base. */
function currentBaseDir(manifest: LoadedManifest, name: string): string {
  try {
    const dir = readFileSync(currentBaseFile(manifest, name), 'utf8').trim();
    if (dir === name || (dir.startsWith(`${name}@`) && /^[A-Za-z0-9._@-]+$/.test(dir))) return dir;
  } catch {
    // no update yet
  }
  return name;
}

interface Marker {
  file: string;
  size: number;
  mtimeMs: number;
  extractedAt: string;
}

export async function isExtracted(img: StoredImage): Promise<boolean> {
  try {
    const marker = JSON.parse(await readFile(join(img.dir, '.bramble-image.json'), 'utf8')) as Marker;
    const st = await stat(img.file);
    return marker.size === st.size && Math.floor(marker.mtimeMs) === Math.floor(st.mtimeMs);
  } catch {
    return false;
  }
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** Extract an image into the store unless an up-to-date extraction is there. */
export async function ensureExtracted(
  img: StoredImage,
  out: Output,
  options: { force?: boolean } = {},
): Promise<boolean> {
  if (!options.force && (await isExtracted(img))) {
    out.debug(`image ${img.name} already extracted in ${img.dir}`);
    return false;
  }
  if (!existsSync(img.file)) throw new Error(`image file ${img.file} does not exist`);
  await rm(img.dir, { recursive: true, force: true });
  // A failed extraction leaves nothing: not the image's directory, nor the parents it created.
  const created = (await mkdir(img.dir, { recursive: true })) ?? img.dir;
  try {
    await extractImage(img, out);
  } catch (err) {
    await rm(created, { recursive: true, force: true });
    throw err;
  }
  return true;
}

async function extractImage(img: StoredImage, out: Output): Promise<void> {
  const image = await loadImage();
  const allowNonRoot = !isRoot();
  if (allowNonRoot)
    out.debug('not root: extracting without ownership, device nodes and security.* xattrs (allowNonRoot)');
  // Opened once: a compressed image is decompressed once (next to the store) for both partitions.
  const disk = await image.openImage(img.file, { tmpDir: img.dir });
  try {
    const parts = image.bootAndRootPartitions(disk.partitions);
    for (const [what, partition, to] of [
      ['boot', parts.boot, img.bootDir],
      ['root', parts.root, img.rootDir],
    ] as const) {
      const bar = out.progress(`extracting ${img.name} ${what}`);
      await image.extract(disk, {
        partition,
        to,
        allowNonRoot,
        overwrite: true,
        onProgress: (p) => bar.update(p.bytes ?? 0, p.totalBytes),
      });
      bar.done(`extracted ${img.name} ${what} partition to ${to}`);
    }
  } finally {
    await disk.close();
  }
  const st = await stat(img.file);
  const marker: Marker = {
    file: img.file,
    size: st.size,
    mtimeMs: st.mtimeMs,
    extractedAt: new Date().toISOString(),
  };
  await writeFile(join(img.dir, '.bramble-image.json'), `${JSON.stringify(marker, null, 2)}\n`);
}

/**
 * Where nodes report "userspace up": brambled's HTTP endpoint when the nodes can reach it (http.listen
 * not on loopback; 0.0.0.0 means the server address). Undefined: no report unit is installed.
 */
export function bootReportUrl(m: LoadedManifest): string | undefined {
  const { address, port } = m.manifest.http.listen;
  if (address.startsWith('127.')) return undefined;
  return `http://${address === '0.0.0.0' ? m.manifest.server.address : address}:${port}/boot/up`;
}

/** Lay out one node's TFTP and NFS trees from its (extracted) image; the layout is kept in <state>/layouts/. */
export async function provision(
  manifest: LoadedManifest,
  n: ManifestNode,
  out: Output,
  extra: {
    hostKeyTypes?: ('ed25519' | 'ecdsa' | 'rsa')[];
    /** An image extraction other than the store's current one (image update), already extracted. */
    image?: StoredImage;
    carryIdentity?: 'all' | 'secrets';
    refreshImage?: boolean;
  } = {},
): Promise<NodeLayout> {
  const img = extra.image ?? storedImage(manifest, n.image);
  if (!extra.image) await ensureExtracted(img, out);
  const bt = await loadBootTree();
  await mkdir(manifest.tftpRoot, { recursive: true });
  await mkdir(manifest.nfsRoot, { recursive: true });
  const nfsVersion = n.nfsVersion ?? manifest.manifest.nfs.version;
  const reportUrl = bootReportUrl(manifest);
  const layout = await bt.provisionNode({
    node: { ...toNodeSpec(n), ...definedOnly({ nfsVersion }) },
    image: { name: img.name, bootDir: img.bootDir, rootDir: img.rootDir },
    tftpRoot: manifest.tftpRoot,
    nfsRoot: manifest.nfsRoot,
    nfsServer: manifest.manifest.server.address,
    ...definedOnly({
      bootReportUrl: reportUrl,
      hostKeyTypes: extra.hostKeyTypes,
      carryIdentity: extra.carryIdentity,
      refreshImage: extra.refreshImage ? true : undefined,
    }),
  });
  await mkdir(join(manifest.stateDir, 'layouts'), { recursive: true });
  await writeFile(layoutFile(manifest, n.hostname), `${JSON.stringify(layout, null, 2)}\n`);
  for (const c of layout.changes) out.debug(`${n.hostname}: ${c}`);
  return layout;
}

export const layoutFile = (manifest: LoadedManifest, hostname: string) =>
  join(manifest.stateDir, 'layouts', `${hostname}.json`);

/** The recorded layouts of the manifest's nodes; nodes never provisioned are listed in `missing`. */
export async function readLayouts(
  manifest: LoadedManifest,
  hostnames?: readonly string[],
): Promise<{ layouts: NodeLayout[]; missing: string[] }> {
  const layouts: NodeLayout[] = [];
  const missing: string[] = [];
  for (const n of manifest.manifest.nodes) {
    if (hostnames && hostnames.length > 0 && !hostnames.includes(n.hostname)) continue;
    try {
      layouts.push(JSON.parse(await readFile(layoutFile(manifest, n.hostname), 'utf8')) as NodeLayout);
    } catch {
      missing.push(n.hostname);
    }
  }
  return { layouts, missing };
}
