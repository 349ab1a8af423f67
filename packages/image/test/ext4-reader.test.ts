import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot } from '@bramble/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBlockSource } from '../src/block-source.js';
import { openExt4 } from '../src/index.js';
import {
  BIG_DIR_ENTRIES,
  type BuiltImage,
  buildImage,
  buildTree,
  dumpFs,
  dumpTree,
  FEATURE_SETS,
  type FeatureSet,
  normaliseLinks,
  scratchDir,
  withMount,
} from './ext4-tree.js';

describe.runIf(isRoot())('ext4 reader against the kernel (loop mount oracle)', () => {
  let work: string;
  let tree: string;
  beforeAll(async () => {
    work = await mkdtemp(join(scratchDir(), 'bramble-ext4-tree-'));
    tree = join(work, 'tree');
    await buildTree(tree);
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  for (const features of Object.keys(FEATURE_SETS) as FeatureSet[]) {
    describe(features, () => {
      let img: BuiltImage;
      beforeAll(async () => {
        img = await buildImage(tree, features);
      });
      afterAll(async () => {
        await img?.cleanup();
      });

      it('reads every entry exactly as the kernel shows it', async () => {
        const oracle = normaliseLinks(await withMount(img.path, (mnt) => dumpTree(mnt)));
        const src = await FileBlockSource.open(img.path);
        try {
          const fs = await openExt4(src);
          expect(fs.label).toBe('rootfs');
          const mine = normaliseLinks(await dumpFs(fs));
          expect(Object.keys(mine).sort()).toEqual(Object.keys(oracle).sort());
          for (const [p, e] of Object.entries(oracle))
            expect({ path: p, ...mine[p] }).toEqual({ path: p, ...e });
          // the fixtures really exercise what they claim
          expect(Object.keys(mine).filter((p) => p.startsWith('/bigdir/')).length).toBe(BIG_DIR_ENTRIES);
          expect(mine['/bin/ping']?.xattrs['security.capability']).toBeDefined();
          expect(mine['/acl-dir']?.xattrs['system.posix_acl_default']).toBeDefined();
          expect(mine['/hello.txt']?.mtime.endsWith('123456789')).toBe(true);
          const big = await fs.lookup('/big.bin');
          const streamed: Buffer[] = [];
          for await (const chunk of fs.createReadStream(big)) streamed.push(chunk as Buffer);
          expect(Buffer.concat(streamed).equals(await fs.read(big, 0, big.stat.size))).toBe(true);
          const sparse = await fs.lookup('/sparse.img');
          const ranges = await fs.dataRanges(sparse);
          const dataBytes = ranges.reduce((a, r) => a + r.length, 0);
          expect(dataBytes).toBeLessThan(1024 * 1024);
          expect(dataBytes).toBeGreaterThanOrEqual(70_000);
        } finally {
          await src.close();
        }
      });
    });
  }
});
