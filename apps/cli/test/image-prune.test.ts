/**
 * `bramble image prune` and `bramble image rm` on real disk images (sfdisk, mkfs.vfat + mtools,
 * mkfs.ext4 -d): a shared node is moved to a new base by `image update`; the old base is kept while a
 * node's cmdline.txt still names it (an update that did not reach it), deleted once none does (dry run
 * first: nothing deleted); the current base is never deleted; `image rm` leaves no base and no NAME.current.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { bramble, buildPiImage, piOsRoot, tempDir } from './helpers.js';

let work: string;
let oldImg: string;
let newImg: string;

beforeAll(async () => {
  for (const tool of ['sfdisk', 'mkfs.ext4', 'mkfs.vfat', 'mcopy', 'mke2fs', 'debugfs', 'dd'])
    requireTool(tool);
  work = await tempDir('prune');
  oldImg = await buildPiImage(join(work, 'old'), piOsRoot('old\n'));
  newImg = await buildPiImage(join(work, 'new'), piOsRoot('new\n'));
}, 120_000);

interface PruneJson {
  dryRun: boolean;
  removed: { name: string; dir: string }[];
  kept: { name: string; current: boolean; usedBy: string[] }[];
  finished: string[];
}

describe('bramble image prune / image rm', () => {
  it('deletes only unused old bases, never the current one; image rm leaves nothing behind', async () => {
    const config = join(work, 'bramble.yaml');
    const state = join(work, 'state');
    const images = join(state, 'images');
    const cli = (...args: string[]) => bramble(['--config', config, ...args]);
    const add = await cli(
      'node',
      'add',
      'n1',
      '--serial',
      'dddd0001',
      '--image',
      oldImg,
      '--nfs-server',
      '10.0.0.1',
      '--state',
      state,
      '--root',
      'shared',
    );
    expect(add.stderr).not.toMatch(/error|warn/i);
    expect(add.exitCode).toBe(0);
    const name = (await readdir(images)).find((d) => !d.includes('@') && !d.includes('.')) as string;
    const cmdlineFile = join(state, 'tftp', 'dddd0001', 'cmdline.txt');
    const oldCmdline = await readFile(cmdlineFile, 'utf8');

    // Only the current base: nothing to prune.
    const none = await cli('--json', 'image', 'prune', name);
    expect(none.exitCode).toBe(0);
    expect((JSON.parse(none.stdout) as PruneJson).removed).toEqual([]);

    const up = await cli('--json', 'image', 'update', name, newImg);
    expect(up.exitCode).toBe(0);
    const newBase = (await readdir(images)).find((d) => d.startsWith(`${name}@`)) as string;
    expect((await readFile(join(images, `${name}.current`), 'utf8')).trim()).toBe(newBase);
    const newCmdline = await readFile(cmdlineFile, 'utf8');
    expect(newCmdline).toContain(`${newBase}/root`);

    // A node whose cmdline.txt still names the old base (an update that did not reach it) keeps it.
    await writeFile(cmdlineFile, oldCmdline);
    const held = await cli('--json', 'image', 'prune', name);
    expect(held.exitCode).toBe(0);
    const heldJson = JSON.parse(held.stdout) as PruneJson;
    expect(heldJson.removed).toEqual([]);
    expect(heldJson.kept).toContainEqual(expect.objectContaining({ name, current: false, usedBy: ['n1'] }));
    expect(heldJson.kept).toContainEqual(expect.objectContaining({ name: newBase, current: true }));
    expect(existsSync(join(images, name, 'root/etc/motd'))).toBe(true);

    // Once no node names it: the dry run lists it and deletes nothing, the real run deletes it.
    await writeFile(cmdlineFile, newCmdline);
    const dry = await cli('--json', 'image', 'prune', name, '--dry-run');
    expect(dry.exitCode).toBe(0);
    const dryJson = JSON.parse(dry.stdout) as PruneJson;
    expect(dryJson.dryRun).toBe(true);
    expect(dryJson.removed.map((b) => b.name)).toEqual([name]);
    expect(existsSync(join(images, name, 'root/etc/motd'))).toBe(true);

    // A deletion an earlier run could not finish is finished too.
    await mkdir(join(images, `.${name}@20200101T000000Z.deleting/root`), { recursive: true });
    const pruned = await cli('image', 'prune');
    expect(pruned.stderr).toBe('');
    expect(pruned.exitCode).toBe(0);
    expect(pruned.stdout).toContain(`deleted ${join(images, name)}`);
    expect(pruned.stdout).toMatch(/kept .*\(current; used by n1\)/);
    expect((await readdir(images)).sort()).toEqual([`${name}.current`, newBase].sort());
    expect(await readFile(join(images, newBase, 'root/etc/motd'), 'utf8')).toBe('new\n');
    expect(await readFile(join(state, 'nfs', 'n1', 'identity/etc/hostname'), 'utf8')).toBe('n1\n');

    const again = await cli('image', 'prune', name);
    expect(again.stdout).toContain('no unused base to delete');
    const unknown = await cli('image', 'prune', 'nope');
    expect(unknown.exitCode).toBe(2);

    // image rm: refused while a node uses the image; afterwards no base and no NAME.current remain.
    const refused = await cli('--yes', 'image', 'rm', name);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toMatch(/used by n1/);
    expect(existsSync(join(images, newBase))).toBe(true);
    expect((await cli('--yes', 'node', 'rm', 'n1')).exitCode).toBe(0);
    await mkdir(join(images, `${name}@20200101T000000Z/root`), { recursive: true }); // an orphan old base
    const removed = await cli('--yes', 'image', 'rm', name);
    expect(removed.stderr).toBe('');
    expect(removed.exitCode).toBe(0);
    expect(await readdir(images)).toEqual([]);
    expect(await readFile(config, 'utf8')).not.toContain(`${name}:`);
  }, 300_000);
});
