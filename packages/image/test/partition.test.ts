import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferSource, FileBlockSource } from '../src/block-source.js';
import { openImage } from '../src/disk-image.js';
import { ImageError } from '../src/errors.js';
import { crc32 } from '../src/partition/gpt.js';
import { readPartitionTable } from '../src/partition/index.js';
import { buildDisk, buildFat, makeTempDir, pseudoRandom, removeDir } from './helpers/images.js';

interface SfdiskJson {
  partitiontable: {
    label: string;
    id: string;
    partitions: { node: string; start: number; size: number; type: string; uuid?: string; name?: string }[];
  };
}
async function sfdiskJson(path: string): Promise<SfdiskJson['partitiontable']> {
  const r = await execa(requireTool('sfdisk'), ['--json', path]);
  return (JSON.parse(r.stdout) as SfdiskJson).partitiontable;
}

let dir: string;
beforeAll(async () => {
  dir = await makeTempDir('part');
});
afterAll(async () => {
  await removeDir(dir);
});

describe('MBR', () => {
  it('reads primaries, logical partitions, disk signature and PARTUUIDs like sfdisk', async () => {
    const fat = await buildFat(join(dir, 'p.fat'), { fatBits: 16, sizeMiB: 20, label: 'BOOTFS' });
    const disk = await buildDisk(join(dir, 'mbr.img'), {
      table: 'mbr',
      diskId: 'a1b2c3d4',
      partitions: [
        { image: fat, type: 'c' },
        { sizeMiB: 2, type: '83' },
        { sizeMiB: 1, type: '82', logical: true },
        { sizeMiB: 1, type: '83', logical: true },
      ],
    });
    const oracle = await sfdiskJson(disk.path);
    const src = await FileBlockSource.open(disk.path);
    try {
      const t = await readPartitionTable(src);
      expect(t.table).toBe('mbr');
      expect(t.diskId).toBe('a1b2c3d4');
      expect(oracle.id).toBe('0xa1b2c3d4');
      // sfdisk lists the extended container too; we list what holds data (like the kernel's /dev/sdaN minus the container).
      const data = oracle.partitions.filter((p) => p.type !== '5');
      expect(t.partitions.map((p) => p.number)).toEqual([1, 2, 5, 6]);
      expect(
        t.partitions.map((p) => ({ start: p.start, size: p.size, type: p.type.replace(/^0/, '') })),
      ).toEqual(data.map((p) => ({ start: p.start * 512, size: p.size * 512, type: p.type })));
      expect(t.partitions.map((p) => p.partuuid)).toEqual([
        'a1b2c3d4-01',
        'a1b2c3d4-02',
        'a1b2c3d4-05',
        'a1b2c3d4-06',
      ]);
    } finally {
      await src.close();
    }
    const img = await openImage(disk.path);
    try {
      expect(img.partitions[0]).toMatchObject({ fsType: 'fat16', label: 'BOOTFS', fsUuid: '1234-ABCD' });
      expect(img.partition('bootfs').number).toBe(1);
      expect(img.partition(6).partuuid).toBe('a1b2c3d4-06');
      expect(() => img.partition('nope')).toThrow(expect.objectContaining({ code: 'NO_SUCH_PARTITION' }));
      await expect(img.openFileSystem(2)).rejects.toMatchObject({ code: 'UNKNOWN_FILESYSTEM' });
    } finally {
      await img.close();
    }
  });

  it('refuses an EBR chain that loops', async () => {
    const disk = await buildDisk(join(dir, 'loop.img'), {
      table: 'mbr',
      partitions: [
        { sizeMiB: 1, type: '83', logical: true },
        { sizeMiB: 1, type: '83', logical: true },
      ],
    });
    const b = await readFile(disk.path);
    // The extended container is entry 0; find the second EBR and point its link back at the first.
    const extLba = b.readUInt32LE(446 + 8);
    const firstEbr = extLba * 512;
    const secondEbrLba = extLba + b.readUInt32LE(firstEbr + 446 + 16 + 8);
    b.writeUInt32LE(0, secondEbrLba * 512 + 446 + 16 + 8);
    b[secondEbrLba * 512 + 446 + 16 + 4] = 0x05;
    b.writeUInt32LE(1, secondEbrLba * 512 + 446 + 16 + 12);
    await expect(readPartitionTable(new BufferSource(b))).rejects.toMatchObject({
      code: 'BAD_PARTITION_TABLE',
    });
  });

  it('reports a partition past the end of a truncated image', async () => {
    const disk = await buildDisk(join(dir, 'trunc.img'), {
      table: 'mbr',
      partitions: [{ sizeMiB: 4, type: '83' }],
    });
    const b = (await readFile(disk.path)).subarray(0, 2 * 1024 * 1024);
    await expect(readPartitionTable(new BufferSource(b))).rejects.toMatchObject({ code: 'TRUNCATED' });
  });

  it('treats a bare file system (no table) as one partition', async () => {
    const fat = await buildFat(join(dir, 'bare.fat'), { fatBits: 32, sizeMiB: 34, label: 'BARE' });
    const img = await openImage(fat);
    try {
      expect(img.table).toBe('none');
      expect(img.partitions).toHaveLength(1);
      expect(img.partitions[0]).toMatchObject({ number: 1, start: 0, fsType: 'fat32', label: 'BARE' });
      const fs = await img.openFileSystem('BARE');
      expect(fs.kind).toBe('fat');
    } finally {
      await img.close();
    }
  });
});

describe('GPT', () => {
  let diskPath: string;
  beforeAll(async () => {
    const fat = await buildFat(join(dir, 'g.fat'), { fatBits: 12, sizeMiB: 2, label: 'FW' });
    const disk = await buildDisk(join(dir, 'gpt.img'), {
      table: 'gpt',
      diskId: '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9',
      partitions: [
        { image: fat, type: 'U', name: 'EFI system' },
        { sizeMiB: 2, type: 'L', name: 'rootfs' },
        { sizeMiB: 1, type: 'L' },
      ],
    });
    diskPath = disk.path;
  });

  it('reads entries, names and GUIDs like sfdisk', async () => {
    const oracle = await sfdiskJson(diskPath);
    const src = await FileBlockSource.open(diskPath);
    try {
      const t = await readPartitionTable(src);
      expect(t.table).toBe('gpt');
      expect(t.diskId).toBe(oracle.id.toLowerCase());
      expect(
        t.partitions.map((p) => ({
          start: p.start / 512,
          size: p.size / 512,
          type: p.type,
          partuuid: p.partuuid,
          label: p.label,
        })),
      ).toEqual(
        oracle.partitions.map((p) => ({
          start: p.start,
          size: p.size,
          type: p.type.toLowerCase(),
          partuuid: p.uuid?.toLowerCase(),
          label: p.name,
        })),
      );
    } finally {
      await src.close();
    }
    const img = await openImage(diskPath);
    try {
      expect(img.partition('rootfs').number).toBe(2);
      expect(img.partition('EFI system')).toMatchObject({ number: 1, fsType: 'fat12', fsLabel: 'FW' });
      expect(img.partition('FW').number).toBe(1);
    } finally {
      await img.close();
    }
  });

  it('falls back to the backup header when the primary fails its CRC, and refuses when both fail', async () => {
    const good = await readFile(diskPath);
    const expected = await readPartitionTable(new BufferSource(good));
    const b = Buffer.from(good);
    b[512 + 60] = (b[512 + 60] as number) ^ 0xff; // flip a byte of the disk GUID in the primary header
    const fromBackup = await readPartitionTable(new BufferSource(b));
    expect(fromBackup.partitions).toEqual(expected.partitions);
    const last = b.length - 512;
    b[last + 60] = (b[last + 60] as number) ^ 0xff;
    await expect(readPartitionTable(new BufferSource(b))).rejects.toMatchObject({
      code: 'CHECKSUM_MISMATCH',
    });
  });

  it('detects a corrupted entry array', async () => {
    const b = Buffer.from(await readFile(diskPath));
    b[1024 + 56] = 0x41; // first entry's name, primary array
    const last = b.length - 512;
    const backupEntries = Number(b.readBigUInt64LE(last + 72)) * 512;
    b[backupEntries + 56] = 0x41;
    await expect(readPartitionTable(new BufferSource(b))).rejects.toMatchObject({
      code: 'CHECKSUM_MISMATCH',
    });
  });

  it('crc32 matches the IEEE check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});

describe('partition table fuzz', () => {
  it('random corruption of MBR, EBR and GPT sectors gives a table or an ImageError, nothing else', async () => {
    const mbr = await buildDisk(join(dir, 'fz-mbr.img'), {
      table: 'mbr',
      partitions: [
        { sizeMiB: 1, type: 'c' },
        { sizeMiB: 1, type: '83', logical: true },
        { sizeMiB: 1, type: '83', logical: true },
      ],
    });
    const gpt = await buildDisk(join(dir, 'fz-gpt.img'), {
      table: 'gpt',
      partitions: [{ sizeMiB: 1, type: 'L', name: 'a' }],
    });
    const images = [await readFile(mbr.path), await readFile(gpt.path)];
    const extLba = (images[0] as Buffer).readUInt32LE(446 + 16 + 8);
    const targets = [
      [0, [[440, 72]]], // MBR signature + entries
      [0, [[extLba * 512 + 446, 66]]], // first EBR
      [
        1,
        [
          [446, 66],
          [512, 92],
          [1024, 256],
        ],
      ], // protective MBR, GPT header, first entries
    ] as const;
    const rand = pseudoRandom(400 * 8, 99);
    let typed = 0;
    for (let i = 0; i < 400; i++) {
      const [which, ranges] = targets[i % targets.length] as (typeof targets)[number];
      const b = Buffer.from(images[which] as Buffer);
      const [start, len] = ranges[(rand[i * 8] as number) % ranges.length] as readonly [number, number];
      b[start + (rand.readUInt16LE(i * 8 + 1) % len)] = rand[i * 8 + 3] as number;
      if (rand[i * 8 + 4]! & 1) b[start + (rand.readUInt16LE(i * 8 + 5) % len)] = rand[i * 8 + 7] as number;
      try {
        await readPartitionTable(new BufferSource(b));
      } catch (e) {
        if (!(e instanceof ImageError)) throw new Error(`case ${i}: ${String(e)}`);
        typed++;
      }
    }
    expect(typed).toBeGreaterThan(20);
  });
});
