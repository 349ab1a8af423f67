/** NodeTree, the one path resolver for image trees: chroot-like resolution, no write ever leaves the tree. */
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BootTreeError, MAX_SYMLINK_HOPS, NodeTree } from '../../src/index.js';
import { treeDigest } from '../helpers/hostile-image.js';

let work: string;
let root: string;
let host: string;
let tree: NodeTree;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'bt-tree-'));
  root = join(work, 'root');
  host = join(work, 'host');
  await mkdir(join(root, 'etc'), { recursive: true });
  await mkdir(host);
  await writeFile(join(host, 'file'), 'host\n');
  await writeFile(join(root, 'etc/real'), 'in tree\n');
  tree = await NodeTree.open(root);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(BootTreeError);
  return (e as BootTreeError).code;
}

describe('NodeTree resolution', () => {
  it('clamps .. at the tree root', async () => {
    expect(await tree.nodePath('/../../../etc/real')).toBe('/etc/real');
    expect(await tree.readText('/../../../../etc/real')).toBe('in tree\n');
    expect(await tree.hostPath('/..')).toBe(tree.root);
  });

  it('rebases absolute symlink targets onto the tree root and clamps relative ones', async () => {
    await symlink(host, join(root, 'abs'));
    await symlink(`../../../../../../../..${host}`, join(root, 'etc/rel'));
    expect(await tree.readText('/abs/file')).toBeUndefined(); // the host's file is not the node's
    expect(await tree.readText('/etc/rel/file')).toBeUndefined();
    const before = await treeDigest(host);
    expect(await tree.writeFile('/abs/file', 'node\n')).toBe(true);
    expect(await tree.writeFile('/etc/rel/other', 'node\n')).toBe(true);
    expect(await treeDigest(host)).toEqual(before);
    expect(await tree.nodePath('/abs/file')).toBe(`${host}/file`);
    expect(await readFile(join(root, host, 'file'), 'utf8')).toBe('node\n');
    expect(await readFile(join(root, host, 'other'), 'utf8')).toBe('node\n');
  });

  it('replaces a final symlink instead of writing through it; lchown/remove act on the link', async () => {
    await symlink(join(host, 'file'), join(root, 'etc/final'));
    const before = await treeDigest(host);
    await tree.writeFile('/etc/final', 'x\n');
    expect((await lstat(join(root, 'etc/final'))).isFile()).toBe(true);
    await symlink(host, join(root, 'etc/gone'));
    expect(await tree.remove('/etc/gone')).toBe(true);
    expect(await treeDigest(host)).toEqual(before);
  });

  it(`stops after ${MAX_SYMLINK_HOPS} hops with SYMLINK_LOOP; a file used as a directory is NOT_A_DIRECTORY`, async () => {
    await symlink('b', join(root, 'a'));
    await symlink('/a', join(root, 'b'));
    expect(await code(tree.writeFile('/a/x', 'y'))).toBe('SYMLINK_LOOP');
    expect(await code(tree.writeFile('/etc/real/x', 'y'))).toBe('NOT_A_DIRECTORY');
    expect(await readlink(join(root, 'a'))).toBe('b');
  });

  it('refuses to remove or move the tree root', async () => {
    expect(await code(tree.remove('/../'))).toBe('INVALID_INPUT');
    expect(await code(tree.rename('/', '/x'))).toBe('INVALID_INPUT');
  });
});
