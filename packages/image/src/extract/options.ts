import type { Logger } from '@bramble/logger';
import { z } from 'zod';

/** Progress of an extraction, for a progress bar: bytes and files done of the totals. */
export interface ExtractProgress {
  /** The destination being written (as given). */
  to: string;
  phase: 'scan' | 'write' | 'finish';
  bytes: number;
  totalBytes: number;
  files: number;
  totalFiles: number;
}

export interface ExtractResult {
  format: 'dir' | 'tar';
  /** The final path (directory or .tar file). */
  to: string;
  /** Entries written (directories, files, links, specials), the root included. */
  entries: number;
  files: number;
  directories: number;
  symlinks: number;
  hardlinks: number;
  devices: number;
  fifos: number;
  sockets: number;
  /** File content bytes read from the image (hard links counted once). */
  bytes: number;
  /** What was left out on purpose: non-root `allowNonRoot` runs, or sockets in tar (tar cannot hold them). */
  skipped: { ownership: boolean; devices: number; xattrs: number; sockets: number };
  durationMs: number;
}

/** Options every extraction takes, whatever it extracts. */
const SharedOptions = z.object({
  format: z.enum(['dir', 'tar']).optional(),
  /** Without root: skip ownership, device nodes and security.* and trusted.* xattrs instead of failing. */
  allowNonRoot: z.boolean().optional(),
  /** Replace a non-empty destination when it is an earlier extraction (its marker file matches). */
  overwrite: z.boolean().optional(),
  /** Accept an ext4 file system whose journal needs recovery. */
  allowDirty: z.boolean().optional(),
  signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal).optional(),
  onProgress: z.custom<(p: ExtractProgress) => void>((v) => typeof v === 'function').optional(),
  logger: z
    .custom<Logger>((v) => typeof v === 'object' && v !== null && typeof (v as Logger).info === 'function')
    .optional(),
  /** Files written in parallel (dir mode). */
  concurrency: z.number().int().min(1).max(64).optional(),
});

const Partition = z.union([z.number().int().min(1), z.string().min(1)]);

export const ExtractOptions = SharedOptions.extend({
  /** Partition number (1-based) or label; ignored when a FileSystem is passed. */
  partition: Partition.optional(),
  /** Destination directory (format 'dir') or archive file (format 'tar'). */
  to: z.string().min(1),
});
export type ExtractOptions = z.input<typeof ExtractOptions>;

/** One partition of an image and where it goes. */
export const ExtractTarget = z.object({ partition: Partition, to: z.string().min(1) });
export type ExtractTarget = z.input<typeof ExtractTarget>;

export const ExtractPartitionsOptions = SharedOptions.extend({
  /** Partitions and their destinations; committed together once all are written. */
  targets: z.array(ExtractTarget).min(1).max(16),
});
export type ExtractPartitionsOptions = z.input<typeof ExtractPartitionsOptions>;
