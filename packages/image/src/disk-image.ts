import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@bramble/logger';
import { z } from 'zod';
import { type BlockSource, FileBlockSource, SliceSource } from './block-source.js';
import { ImageError } from './errors.js';
import { openExt4 } from './ext4/open.js';
import { openFat } from './fat/fat-fs.js';
import type { FileSystem } from './filesystem.js';
import { type PartitionInfo, type PartitionTableKind, readPartitionTable } from './partition/index.js';
import { probeFileSystem } from './probe.js';
import { decompressToFile } from './source/decompress.js';
import { detectFileFormat, type ImageFormat } from './source/detect.js';

export type { ImageFormat } from './source/detect.js';
export type { XzDecoder } from './source/xz.js';

/** A disk image opened for reading: its container format, partition table and partitions. */
export interface DiskImage {
  /** Path given to openImage. */
  readonly path: string;
  readonly format: ImageFormat;
  /** The (decompressed) whole-disk bytes. */
  readonly source: BlockSource;
  readonly table: PartitionTableKind;
  /** MBR disk signature (8 lowercase hex digits, the PARTUUID prefix) or GPT disk GUID. */
  readonly diskId?: string;
  readonly partitions: PartitionInfo[];
  /** Find a partition by number or by label (GPT name or file-system label; exact, then case-insensitive). */
  partition(sel: number | string): PartitionInfo;
  /** Open the file system of a partition: FAT (openFat) or ext2/3/4 (openExt4). */
  openFileSystem(
    sel: number | string,
    opts?: { allowDirty?: boolean; verifyChecksums?: boolean },
  ): Promise<FileSystem>;
  /** Close the source and remove any temporary decompressed copy. */
  close(): Promise<void>;
}

export interface OpenImageOptions {
  /** Where a compressed image is decompressed to (a sparse temporary file, removed by close()). Default: os.tmpdir(). */
  tmpDir?: string;
  signal?: AbortSignal;
  /** Decompression progress (bytes written; total when the container records it). */
  onProgress?: (p: { bytes: number; total?: number }) => void;
  /** xz decoder: the `xz` program (-T0) where installed ('auto', default), or force 'program' / 'wasm'. */
  xzDecoder?: 'auto' | 'program' | 'wasm';
  logger?: Logger;
}

const OpenImageOptionsSchema = z.object({
  tmpDir: z.string().min(1).optional(),
  signal: z.instanceof(AbortSignal).optional(),
  onProgress: z
    .custom<(p: { bytes: number; total?: number }) => void>((v) => typeof v === 'function')
    .optional(),
  xzDecoder: z.enum(['auto', 'program', 'wasm']).optional(),
  logger: z.custom<Logger>((v) => typeof v === 'object' && v !== null).optional(),
});

/**
 * Open a disk image (.img, .img.xz, .zip with one .img, .img.gz; format from magic bytes).
 * Compressed images are decompressed once, streaming, into a sparse temporary file that close()
 * removes (also removed when opening fails or is aborted).
 */
export async function openImage(path: string, options: OpenImageOptions = {}): Promise<DiskImage> {
  const parsed = OpenImageOptionsSchema.safeParse(options);
  if (!parsed.success)
    throw new ImageError('INVALID_OPTIONS', `invalid openImage options: ${parsed.error.message}`);
  const opts = options;
  if (opts.signal?.aborted) throw new ImageError('ABORTED', `opening ${path} was aborted`);
  const { format } = await detectFileFormat(path);
  let tmp: string | undefined;
  let source: BlockSource | undefined;
  try {
    if (format === 'raw') {
      source = await FileBlockSource.open(path);
    } else {
      tmp = await mkdtemp(join(opts.tmpDir ?? tmpdir(), 'bramble-image-'));
      const dest = join(tmp, 'disk.img');
      const t0 = Date.now();
      const r = await decompressToFile(path, format, dest, {
        signal: opts.signal,
        onProgress: opts.onProgress,
        xzDecoder: opts.xzDecoder,
      });
      opts.logger?.debug(
        { path, format, decoder: r.decoder, bytes: r.size, ms: Date.now() - t0 },
        'image decompressed',
      );
      source = await FileBlockSource.open(dest);
    }
    const table = await readPartitionTable(source);
    for (const p of table.partitions) {
      const probe = await probeFileSystem(new SliceSource(source, p.start, p.size));
      p.fsType = probe.fsType;
      if (probe.label !== undefined) p.fsLabel = probe.label;
      if (probe.uuid !== undefined) p.fsUuid = probe.uuid;
      if (p.label === undefined && probe.label !== undefined) p.label = probe.label;
    }
    opts.logger?.debug(
      { path, format, table: table.table, diskId: table.diskId, partitions: table.partitions },
      'image opened',
    );
    return new OpenedImage(
      path,
      format,
      source,
      table.table,
      table.diskId,
      table.partitions,
      tmp,
      opts.logger,
    );
  } catch (e) {
    await source?.close().catch(() => undefined);
    if (tmp) await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

class OpenedImage implements DiskImage {
  private closed = false;
  private readonly fileSystems = new Set<FileSystem>();
  readonly diskId?: string;

  constructor(
    readonly path: string,
    readonly format: ImageFormat,
    readonly source: BlockSource,
    readonly table: PartitionTableKind,
    diskId: string | undefined,
    readonly partitions: PartitionInfo[],
    private readonly tmp: string | undefined,
    private readonly logger: Logger | undefined,
  ) {
    if (diskId !== undefined) this.diskId = diskId;
  }

  partition(sel: number | string): PartitionInfo {
    const p =
      typeof sel === 'number'
        ? this.partitions.find((x) => x.number === sel)
        : (this.partitions.find((x) => x.label === sel || x.fsLabel === sel) ??
          this.partitions.find(
            (x) =>
              x.label?.toLowerCase() === sel.toLowerCase() || x.fsLabel?.toLowerCase() === sel.toLowerCase(),
          ));
    if (!p) {
      const have =
        this.partitions.map((x) => `${x.number}${x.label ? ` (${x.label})` : ''}`).join(', ') || 'none';
      throw new ImageError(
        'NO_SUCH_PARTITION',
        `${this.path} has no partition ${JSON.stringify(sel)}; partitions: ${have}`,
      );
    }
    return p;
  }

  async openFileSystem(
    sel: number | string,
    opts: { allowDirty?: boolean; verifyChecksums?: boolean } = {},
  ): Promise<FileSystem> {
    if (this.closed) throw new ImageError('IO', `${this.path} is closed`);
    const p = this.partition(sel);
    const slice = new SliceSource(this.source, p.start, p.size);
    let fs: FileSystem;
    switch (p.fsType) {
      case 'fat12':
      case 'fat16':
      case 'fat32':
        fs = await openFat(slice);
        break;
      case 'ext2':
      case 'ext3':
      case 'ext4':
        fs = await openExt4(slice, { ...opts, ...(this.logger ? { logger: this.logger } : {}) });
        break;
      default:
        throw new ImageError(
          'UNKNOWN_FILESYSTEM',
          `partition ${p.number} of ${this.path} (type ${p.type}) holds no FAT or ext2/3/4 file system`,
        );
    }
    this.fileSystems.add(fs);
    return fs;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const fs of this.fileSystems) await fs.close().catch(() => undefined);
    await this.source.close().catch(() => undefined);
    if (this.tmp) await rm(this.tmp, { recursive: true, force: true });
  }
}

/**
 * Which partitions of a Raspberry Pi OS style image hold the boot (first FAT) and root (first
 * ext2/3/4) file systems; falls back to 1 and 2, the layout every Raspberry Pi OS release uses.
 */
export function bootAndRootPartitions(partitions: readonly PartitionInfo[]): { boot: number; root: number } {
  return {
    boot: partitions.find((p) => p.fsType?.startsWith('fat'))?.number ?? 1,
    root: partitions.find((p) => p.fsType?.startsWith('ext'))?.number ?? 2,
  };
}
