import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot } from '@bramble/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBlockSource } from '../src/block-source.js';
import { requirePython } from '../src/extract/meta-helper.js';
import { ProgressTracker } from '../src/extract/progress.js';
import { scanTotals } from '../src/extract/scan.js';
import { writeTree } from '../src/extract/to-dir.js';
import { type Ext4FileSystem, openExt4 } from '../src/index.js';
import { type BuiltImage, buildImage, buildTree, dumpTree, normaliseLinks, scratchDir } from './ext4-tree.js';

describe.runIf(isRoot())('the scan keeps what the writer needs (bounded), and both write paths agree', () => {
  let work: string;
  let img: BuiltImage;
  let src: FileBlockSource;
  let fs: Ext4FileSystem;
  beforeAll(async () => {
    work = await mkdtemp(join(scratchDir(), 'bramble-scan-'));
    await buildTree(join(work, 'tree'));
    img = await buildImage(join(work, 'tree'), 'debian');
    src = await FileBlockSource.open(img.path);
    fs = await openExt4(src);
  }, 120_000);
  afterAll(async () => {
    await src?.close();
    await img?.cleanup();
    await rm(work, { recursive: true, force: true });
  });

  it('keeps every walked entry with the ranges it summed, or nothing past the bound', async () => {
    const walked: string[] = [];
    for await (const { path } of fs.walk('/')) walked.push(path);
    const progress = new ProgressTracker('t', undefined, undefined);
    const kept = await scanTotals(fs, progress);
    expect(kept?.map((e) => e.path)).toEqual(walked);
    let summed = 0;
    for (const entry of kept ?? []) {
      if (entry.ranges === undefined) continue;
      expect(entry.ranges).toEqual(await fs.dataRanges(entry.node));
      summed += entry.ranges.reduce((sum, r) => sum + r.length, 0);
    }
    expect(summed).toBe(progress.totalBytes);
    // sparse.img: three data ranges, holes not summed
    const sparse = kept?.find((e) => e.path === '/sparse.img');
    expect(sparse?.ranges?.length).toBe(3);

    const bounded = new ProgressTracker('t', undefined, undefined);
    expect(await scanTotals(fs, bounded, 5)).toBeUndefined();
    expect(bounded.totalBytes).toBe(progress.totalBytes);
    expect(bounded.totalFiles).toBe(walked.length);
  });

  it('readInto fills a dirty buffer exactly as read does (holes as zeros)', async () => {
    const sparse = await fs.lookup('/sparse.img');
    const big = await fs.lookup('/big.bin');
    for (const [node, position, length] of [
      [sparse, 0, 1 << 20],
      [sparse, 10 * 1024 * 1024 - 100, 70_200],
      [sparse, 64 * 1024 * 1024 - 10, 100],
      [big, 0, 300_000],
      [big, 12_345, 4096],
    ] as const) {
      const target = Buffer.alloc(length, 0xee);
      const filled = await fs.readInto(node, position, target);
      const expected = await fs.read(node, position, length);
      expect(filled).toBe(expected.length);
      expect(target.subarray(0, filled).equals(expected)).toBe(true);
    }
  });

  it('writes the same tree from the kept entries as from a fresh walk', async () => {
    const python = await requirePython();
    const dumps = [];
    for (const keep of [true, false]) {
      const root = join(work, keep ? 'kept' : 'walked');
      await mkdir(root, { mode: 0o700 });
      const progress = new ProgressTracker(root, undefined, undefined);
      const kept = await scanTotals(fs, progress, keep ? undefined : 5);
      expect(kept === undefined).toBe(!keep);
      const counts = await writeTree(fs, root, { privileged: true, concurrency: 4, python }, progress, kept);
      expect(counts.hardlinks).toBe(2);
      dumps.push(normaliseLinks(await dumpTree(root)));
    }
    expect(dumps[0]).toEqual(dumps[1]);
  });
});
