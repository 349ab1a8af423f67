/**
 * `bramble image extract` under interruption and with --overwrite (issue 12): the real CLI binary
 * gets a real SIGINT / SIGTERM in the middle of writing the root partition, and must leave the
 * destination's parent exactly as it was (no boot/, no root.partial-*, no decompressed image),
 * exit 130 / 143, and let a rerun succeed. --overwrite refuses identical destinations, $HOME and
 * directories it did not write (exit 2), and a sentinel's sha256 tree proves nothing was touched.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot, requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, bramble, tempDir } from './helpers.js';

const ROOT_FILES = 12_000;
let work: string;
let image: string;
const asUser = isRoot() ? [] : ['--allow-non-root'];

/** MBR disk: p1 FAT32 boot, p2 ext4 root with many small files (so writing it takes a while), xz-compressed. */
async function buildImage(dir: string): Promise<string> {
  const boot = join(dir, 'boot-tree');
  await mkdir(boot, { recursive: true });
  await writeFile(join(boot, 'config.txt'), '[all]\narm_64bit=1\n');
  await writeFile(join(boot, 'cmdline.txt'), 'console=tty1 root=PARTUUID=12345678-02 rootwait\n');
  const root = join(dir, 'root-tree');
  for (let d = 0; d < 12; d++) {
    const sub = join(root, 'usr', `d${d}`);
    await mkdir(sub, { recursive: true });
    for (let i = 0; i < ROOT_FILES / 12; i++) await writeFile(join(sub, `f${i}`), `${d}/${i}\n`);
  }
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc', 'hostname'), 'raspberrypi\n');
  const bootImg = join(dir, 'boot.fat');
  await writeFile(bootImg, '');
  await truncate(bootImg, 34 * 1024 * 1024);
  await execa(requireTool('mkfs.vfat'), ['-F', '32', '-n', 'bootfs', bootImg]);
  await execa(
    requireTool('mcopy'),
    ['-s', '-i', bootImg, join(boot, 'config.txt'), join(boot, 'cmdline.txt'), '::/'],
    {
      env: { MTOOLS_SKIP_CHECK: '1' },
    },
  );
  const rootImg = join(dir, 'root.ext4');
  await execa(requireTool('mkfs.ext4'), [
    '-q',
    '-F',
    '-L',
    'rootfs',
    '-N',
    '16384',
    '-d',
    root,
    rootImg,
    '96M',
  ]);
  const disk = join(dir, 'disk.img');
  await writeFile(disk, '');
  await truncate(disk, (1 + 34 + 96 + 1) * 1024 * 1024);
  await execa(requireTool('sfdisk'), ['--no-reread', '--no-tell-kernel', '-q', disk], {
    input:
      'label: dos\nlabel-id: 0x12345678\nunit: sectors\n\nstart=2048, size=69632, type=c\nstart=71680, size=196608, type=83\n',
  });
  await execa('dd', [`if=${bootImg}`, `of=${disk}`, 'bs=1M', 'seek=1', 'conv=notrunc,sparse'], {
    stderr: 'ignore',
  });
  await execa('dd', [`if=${rootImg}`, `of=${disk}`, 'bs=1M', 'seek=35', 'conv=notrunc,sparse'], {
    stderr: 'ignore',
  });
  await execa(requireTool('xz'), ['-T2', '-1', '-k', disk]);
  return `${disk}.xz`;
}

async function digest(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const visit = async (dir: string, rel: string) => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const key = rel ? `${rel}/${name}` : name;
      const st = await lstat(path);
      if (st.isDirectory()) {
        out[key] = `dir ${st.mode & 0o7777}`;
        await visit(path, key);
      } else
        out[key] = `${st.mode & 0o7777} ${createHash('sha256')
          .update(await readFile(path))
          .digest('hex')}`;
    }
  };
  await visit(root, '');
  return out;
}

async function sentinel(dir: string): Promise<Record<string, string>> {
  await mkdir(join(dir, 'sub'), { recursive: true });
  await writeFile(join(dir, 'keep.txt'), 'sentinel\n');
  await writeFile(join(dir, 'sub', 'data.bin'), Buffer.alloc(4096, 0x5a));
  return digest(dir);
}

beforeAll(async () => {
  work = await tempDir('extract');
  image = await buildImage(work);
}, 300_000);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Start the CLI, send `signal` once the root partition is being written, wait for the exit. */
async function interrupted(parent: string, signal: 'SIGINT' | 'SIGTERM') {
  const child = execa(
    'node',
    [
      bin,
      'image',
      'extract',
      image,
      '--boot',
      join(parent, 'boot'),
      '--root',
      join(parent, 'root'),
      ...asUser,
    ],
    {
      reject: false,
      stdin: 'ignore',
      timeout: 240_000,
    },
  );
  const deadline = Date.now() + 200_000;
  let sent = false;
  while (Date.now() < deadline && child.exitCode === null) {
    const names = await readdir(parent);
    if (names.some((n) => n.startsWith('root.partial-'))) {
      // the root partition is being written: boot is staged, the decompressed image is present
      expect(names.some((n) => n.startsWith('boot.partial-'))).toBe(true);
      expect(names.some((n) => n.startsWith('bramble-image-'))).toBe(true);
      child.kill(signal);
      sent = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const result = await child;
  return { sent, result };
}

describe('bramble image extract, interrupted', () => {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal} mid-extraction leaves the directory as it was (exit ${code}), and a rerun succeeds`, async () => {
      const parent = join(work, `out-${signal}`);
      const before = await sentinel(join(parent, 'sentinel'));
      const { sent, result } = await interrupted(parent, signal);
      expect(sent).toBe(true);
      expect(result.exitCode).toBe(code);
      expect(String(result.stderr)).toContain(`interrupted (${signal})`);
      expect(await readdir(parent)).toEqual(['sentinel']);
      expect(await digest(join(parent, 'sentinel'))).toEqual(before);
      const rerun = await bramble(
        [
          'image',
          'extract',
          image,
          '--boot',
          join(parent, 'boot'),
          '--root',
          join(parent, 'root'),
          ...asUser,
        ],
        {
          timeout: 240_000,
        },
      );
      expect(rerun.exitCode).toBe(0);
      expect(rerun.stderr).toContain('extracted boot to');
      expect(await readdir(join(parent, 'boot'))).toEqual(['cmdline.txt', 'config.txt']);
      expect((await readdir(join(parent, 'root', 'usr'))).length).toBe(12);
      expect((await readdir(parent)).filter((n) => !n.startsWith('.')).sort()).toEqual([
        'boot',
        'root',
        'sentinel',
      ]);
    }, 300_000);
  }
});

describe('bramble image extract --overwrite', () => {
  it('--boot X --root X is a usage error (exit 2): nothing written, X untouched', async () => {
    const parent = join(work, 'same');
    const target = join(parent, 'x');
    const before = await sentinel(target);
    const r = await bramble([
      'image',
      'extract',
      image,
      '--boot',
      target,
      '--root',
      target,
      '--overwrite',
      ...asUser,
    ]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/same path/);
    expect(await digest(target)).toEqual(before);
    expect(await readdir(parent)).toEqual(['x']);
  });

  it('a directory it did not write is a usage error (exit 2), untouched', async () => {
    const parent = join(work, 'foreign');
    const before = await sentinel(join(parent, 'root'));
    const r = await bramble([
      'image',
      'extract',
      image,
      '--boot',
      join(parent, 'boot'),
      '--root',
      join(parent, 'root'),
      '--overwrite',
      ...asUser,
    ]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/holds no earlier extraction/);
    expect(await digest(join(parent, 'root'))).toEqual(before);
    expect(await readdir(parent)).toEqual(['root']);
  });

  it('$HOME is a usage error (exit 2), untouched', async () => {
    const home = join(work, 'home');
    const before = await sentinel(home);
    const r = await bramble(
      ['image', 'extract', image, '--boot', join(work, 'hb'), '--root', home, '--overwrite', ...asUser],
      {
        env: { HOME: home },
      },
    );
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/home directory/);
    expect(await digest(home)).toEqual(before);
  });

  it('replaces an earlier extraction of both partitions', async () => {
    const parent = join(work, 'again');
    const args = [
      'image',
      'extract',
      image,
      '--boot',
      join(parent, 'boot'),
      '--root',
      join(parent, 'root'),
      ...asUser,
    ];
    expect((await bramble(args, { timeout: 240_000 })).exitCode).toBe(0);
    await writeFile(join(parent, 'root', 'stale'), 'x');
    const again = await bramble([...args, '--overwrite'], { timeout: 240_000 });
    expect(again.exitCode).toBe(0);
    expect(await readdir(join(parent, 'root'))).not.toContain('stale');
  }, 300_000);
});
