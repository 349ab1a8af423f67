import type { BootMount } from '../release.js';
import { checkPath, checkServer, checkVersion } from './validate.js';

export interface FstabOptions {
  nfsServer: string;
  /** Exported path of the node's boot (TFTP) directory, mounted at the boot mount. */
  bootPath: string;
  /** `/boot` up to Bullseye, `/boot/firmware` from Bookworm. */
  bootMount: BootMount;
  nfsVersion: string;
  /** Extra `PARTUUID=…`/`UUID=…`/`LABEL=…` identifiers of the image's partitions to drop wherever mounted. */
  imageDevices?: readonly string[];
  /** The node's scratch volume: an ext4 file in its root, loop-mounted at `mountPoint`. */
  scratch?: { file: string; mountPoint: string } | undefined;
}

export const FSTAB_MARKER = '# bramble: boot directory over NFS';
export const FSTAB_SCRATCH_MARKER = '# bramble: scratch volume (ext4 in a file, loop-mounted)';

const SD_SOURCE = /^(PARTUUID=|UUID=|LABEL=|PARTLABEL=|\/dev\/mmcblk|\/dev\/disk\/by-)/;
const SD_MOUNTS = new Set(['/', '/boot', '/boot/firmware']);

function normMount(m: string): string {
  return m.length > 1 ? m.replace(/\/+$/, '') : m;
}

/**
 * Patch /etc/fstab for an NFS root. Pure and idempotent: drops the SD-card lines (PARTUUID=/UUID=/LABEL=
 * or /dev/mmcblk* sources for `/`, `/boot`, `/boot/firmware`; any /dev/mmcblk* line; any listed image
 * device) and any earlier mount of the boot mount, then appends the node's boot directory over NFS with
 * `nofail` (and `nolock` on v3: Bookworm images disable rpcbind/statd). Comments and other lines stay.
 */
export function patchFstab(text: string, options: FstabOptions): string {
  const server = checkServer(options.nfsServer);
  const bootPath = checkPath(options.bootPath, 'bootPath');
  const vers = checkVersion(options.nfsVersion);
  const extra = new Set(options.imageDevices ?? []);
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === FSTAB_MARKER || t === FSTAB_SCRATCH_MARKER) continue;
    if (t && !t.startsWith('#')) {
      const [src = '', mnt = ''] = t.split(/\s+/);
      const m = normMount(mnt);
      if (src.startsWith('/dev/mmcblk')) continue;
      if (extra.has(src)) continue;
      if (SD_MOUNTS.has(m) && SD_SOURCE.test(src)) continue;
      if (m === options.bootMount) continue; // an earlier NFS boot line (ours or hand-made)
      if (options.scratch && (src === options.scratch.file || m === normMount(options.scratch.mountPoint)))
        continue;
    }
    out.push(line);
  }
  while (out.length > 0 && out[out.length - 1]!.trim() === '') out.pop();
  const opts = ['defaults', `vers=${vers}`, ...(vers === '3' ? ['nolock'] : []), 'noatime', 'nofail'];
  out.push(FSTAB_MARKER, `${server}:${bootPath}  ${options.bootMount}  nfs  ${opts.join(',')}  0  0`);
  if (options.scratch) {
    const file = checkPath(options.scratch.file, 'scratch.file');
    const mountPoint = checkPath(options.scratch.mountPoint, 'scratch.mountPoint');
    // loop: mount(8) sets up the loop device for a regular file; nofail: a missing file never blocks boot.
    out.push(FSTAB_SCRATCH_MARKER, `${file}  ${mountPoint}  ext4  loop,noatime,nofail  0  0`);
  }
  return `${out.join('\n')}\n`;
}

/** fstab lines that still reference an SD card (for checks). */
export function sdCardLines(text: string): string[] {
  return text.split('\n').filter((line) => {
    const t = line.trim();
    if (!t || t.startsWith('#')) return false;
    const [src = '', mnt = ''] = t.split(/\s+/);
    return src.startsWith('/dev/mmcblk') || (SD_MOUNTS.has(normMount(mnt)) && SD_SOURCE.test(src));
  });
}
