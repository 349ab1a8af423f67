import type { BlockSource } from '../block-source.js';
import { ImageError } from '../errors.js';
import type { Bpb } from './boot-sector.js';

/** A run of consecutive clusters: `count` clusters starting at `first`. */
export interface ClusterRun {
  first: number;
  count: number;
}

/**
 * The first File Allocation Table, held in memory (a 512 MiB FAT32 volume with 512-byte clusters
 * has ~1 M entries = 4 MB). Entry encodings (FAT spec 1.03 section 4):
 *   FAT12: 12 bits packed, entry n at byte n + n/2 (odd n: high 12 bits of the u16)
 *   FAT16: u16 LE;  FAT32: u32 LE, top 4 bits reserved (masked off)
 *   0 = free; >= 0xFF8 / 0xFFF8 / 0x0FFFFFF8 = end of chain; 0xFF7 / 0xFFF7 / 0x0FFFFFF7 = bad cluster.
 */
export class FatTable {
  private constructor(
    private readonly bpb: Bpb,
    private readonly fat: Buffer,
  ) {}

  static async load(source: BlockSource, bpb: Bpb): Promise<FatTable> {
    const entries = bpb.clusterCount + 2;
    const bytes =
      bpb.fatType === 'fat12' ? Math.ceil((entries * 3) / 2) : entries * (bpb.fatType === 'fat16' ? 2 : 4);
    return new FatTable(bpb, await source.read(bpb.fatOffset, bytes));
  }

  get maxCluster(): number {
    return this.bpb.clusterCount + 1;
  }

  /** Raw FAT entry for `cluster`. */
  entry(cluster: number): number {
    switch (this.bpb.fatType) {
      case 'fat12': {
        const v = this.fat.readUInt16LE(cluster + (cluster >> 1));
        return cluster & 1 ? v >> 4 : v & 0x0fff;
      }
      case 'fat16':
        return this.fat.readUInt16LE(cluster * 2);
      case 'fat32':
        return this.fat.readUInt32LE(cluster * 4) & 0x0fffffff;
    }
  }

  /** Clusters whose FAT entry is not free (0): allocated to files and directories, or marked bad. */
  usedClusters(): number {
    let used = 0;
    for (let cluster = 2; cluster <= this.maxCluster; cluster++) if (this.entry(cluster) !== 0) used++;
    return used;
  }

  private isEnd(v: number): boolean {
    return v >= (this.bpb.fatType === 'fat12' ? 0xff8 : this.bpb.fatType === 'fat16' ? 0xfff8 : 0x0ffffff8);
  }

  /**
   * Follow the chain from `start` into runs of consecutive clusters.
   * `limit` caps the number of clusters (files need ceil(size / clusterSize)); chains that loop,
   * hit a free or bad cluster, or leave the valid range are CORRUPT_FILESYSTEM.
   * With `exact`, a chain shorter than `limit` is corrupt too.
   */
  chain(start: number, limit: number, what: string, exact: boolean): ClusterRun[] {
    const runs: ClusterRun[] = [];
    const max = this.maxCluster;
    const corrupt = (why: string) =>
      new ImageError('CORRUPT_FILESYSTEM', `FAT chain of ${what}: ${why}; run fsck.vfat on the volume`);
    if (limit <= 0) return runs;
    let cluster = start;
    let count = 0;
    // A chain can hold each cluster once; a set catches loops at any distance.
    const seen = new Set<number>();
    for (;;) {
      if (cluster < 2 || cluster > max) throw corrupt(`cluster ${cluster} is out of range 2..${max}`);
      if (seen.has(cluster)) throw corrupt(`loops back to cluster ${cluster}`);
      seen.add(cluster);
      const last = runs[runs.length - 1];
      if (last && last.first + last.count === cluster) last.count++;
      else runs.push({ first: cluster, count: 1 });
      count++;
      if (count >= limit) return runs;
      const next = this.entry(cluster);
      if (this.isEnd(next)) {
        if (exact) throw corrupt(`ends after ${count} clusters, ${limit} needed for its size`);
        return runs;
      }
      if (next === 0) throw corrupt(`cluster ${cluster} links to a free cluster`);
      cluster = next;
    }
  }
}
