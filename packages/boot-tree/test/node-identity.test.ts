/**
 * Issue 15: each node has its own machine-id (first boot non-interactive), ssh keys never go nowhere,
 * and provisioning is all or nothing.
 */
import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BootTreeError, newMachineId, provisionNode } from '../src/index.js';
import { treeDigest } from './helpers/hostile-image.js';
import { makeImage } from './helpers/synthetic-image.js';

let work: string;
let tftpRoot: string;
let nfsRoot: string;
let img: { name: string; bootDir: string; rootDir: string };
const IMAGE_ID = '0123456789abcdef0123456789abcdef';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0000000000000000000000 a@b';

beforeAll(async () => {
  requireTool('ssh-keygen');
  work = await mkdtemp(join(tmpdir(), 'bt-ident-'));
  tftpRoot = join(work, 'tftp');
  nfsRoot = join(work, 'nfs');
  img = { name: 'bookworm', ...(await makeImage(join(work, 'img'), 'bookworm')) };
  // A non-empty image machine-id, as a sloppily prepared image would carry: it must never be copied.
  await writeFile(join(img.rootDir, 'etc/machine-id'), `${IMAGE_ID}\n`);
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const provision = (hostname: string, serial: string, extra: Record<string, unknown> = {}) =>
  provisionNode({
    node: { hostname, serial, image: 'bookworm', ...extra },
    image: img,
    tftpRoot,
    nfsRoot,
    nfsServer: '127.0.0.1',
    hostKeyTypes: ['ed25519'],
  });

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(BootTreeError);
  return (e as BootTreeError).code;
}

describe('machine-id', () => {
  it('newMachineId is 128 random bits in systemd format (v4 UUID bits, 32 lowercase hex)', () => {
    const ids = new Set(Array.from({ length: 200 }, () => newMachineId()));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
  });

  it("two nodes of one image get different ids, never the image's; dbus id links to it; re-runs keep it", async () => {
    await provision('m1', '11111111');
    await provision('m2', '22222222');
    const id1 = await readFile(join(nfsRoot, 'm1/etc/machine-id'), 'utf8');
    const id2 = await readFile(join(nfsRoot, 'm2/etc/machine-id'), 'utf8');
    for (const id of [id1, id2]) {
      expect(id).toMatch(/^[0-9a-f]{32}\n$/);
      expect(id.trim()).not.toBe(IMAGE_ID);
    }
    expect(id1).not.toBe(id2);
    expect((await stat(join(nfsRoot, 'm1/etc/machine-id'))).mode & 0o777).toBe(0o444);
    expect(await readlink(join(nfsRoot, 'm1/var/lib/dbus/machine-id'))).toBe('/etc/machine-id');
    const again = await provision('m1', '11111111');
    expect(again.changes).toEqual([]);
    expect(await readFile(join(nfsRoot, 'm1/etc/machine-id'), 'utf8')).toBe(id1);
  }, 120_000);
});

describe('ssh keys need a user', () => {
  it('sshKeys without user: INVALID_INPUT before anything is written', async () => {
    expect(await codeOf(provision('k1', '33333333', { sshKeys: [KEY] }))).toBe('INVALID_INPUT');
    await expect(lstat(join(nfsRoot, 'k1'))).rejects.toThrow();
    await expect(lstat(join(tftpRoot, '33333333'))).rejects.toThrow();
  });
});

describe('all or nothing', () => {
  it('--user on an image without /etc/passwd: NOT_FOUND, and the node trees this run made are gone', async () => {
    const bare = { name: 'bare', ...(await makeImage(join(work, 'bare'), 'bookworm')) };
    await rm(join(bare.rootDir, 'etc/passwd'));
    const before = await treeDigest(tftpRoot);
    const code = await codeOf(
      provisionNode({
        node: { hostname: 'u1', serial: '44444444', image: 'bare', user: 'pi' },
        image: bare,
        tftpRoot,
        nfsRoot,
        nfsServer: '127.0.0.1',
        hostKeyTypes: ['ed25519'],
      }),
    );
    expect(code).toBe('NOT_FOUND');
    expect(await readdir(nfsRoot)).not.toContain('u1');
    // The TFTP root is exactly as before: no node directory, no shared copy of the new image.
    expect(await treeDigest(tftpRoot)).toEqual(before);
  }, 120_000);

  it('a failing re-run of an existing node keeps its trees (never removes what existed before)', async () => {
    // Something in the existing node root makes personalisation fail half-way (a FIFO at /etc/hosts).
    await rm(join(nfsRoot, 'm2/etc/hosts'));
    await execa('mkfifo', [join(nfsRoot, 'm2/etc/hosts')]);
    const rootBefore = await treeDigest(join(nfsRoot, 'm2'));
    const bootBefore = await treeDigest(join(tftpRoot, '22222222'));
    expect(await codeOf(provision('m2', '22222222'))).toBe('NOT_A_FILE');
    expect(await treeDigest(join(nfsRoot, 'm2'))).toEqual(rootBefore);
    expect(await treeDigest(join(tftpRoot, '22222222'))).toEqual(bootBefore);
  }, 120_000);
});
