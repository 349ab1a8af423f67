import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CheckTarget,
  checkNode,
  DIRECTORY_RULES,
  NODE_DIR_RULE,
  NODE_RULES,
  NodeSpec,
  type ReleaseInfo,
} from '../src/index.js';

const bookworm: ReleaseInfo = {
  id: 'debian',
  codename: 'bookworm',
  version: '12',
  bootMount: '/boot/firmware',
  defaultNfsVersion: '3',
  usesInitramfs: true,
  usesCloudInit: false,
};

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'bramble-check-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A node tree written by hand: a Pi 4 with its firmware, an NFS root and the given config/cmdline. */
async function pi4Node(
  name: string,
  o: { config: string; cmdline: string; files: string[] },
): Promise<CheckTarget> {
  const serial = '7a1b2c3d';
  const tftpRoot = join(work, name, 'tftp');
  const tftpDir = join(tftpRoot, serial);
  const rootPath = join(work, name, 'nfs');
  await mkdir(tftpDir, { recursive: true });
  await mkdir(join(rootPath, 'etc'), { recursive: true });
  for (const f of ['start4.elf', 'fixup4.dat', 'bcm2711-rpi-4-b.dtb', 'userconf.txt', ...o.files]) {
    await writeFile(join(tftpDir, f), 'x');
  }
  await writeFile(join(tftpDir, 'config.txt'), o.config);
  await writeFile(join(tftpDir, 'cmdline.txt'), o.cmdline.replace('ROOT', rootPath));
  await writeFile(join(rootPath, 'etc/os-release'), 'ID=debian\n');
  await writeFile(join(rootPath, 'etc/hostname'), `${name}\n`);
  return {
    node: NodeSpec.parse({ hostname: name, serial, image: 'bookworm', model: 'pi4' }),
    hostname: name,
    tftpRoot,
    tftpDir,
    rootPath,
    release: bookworm,
    nfsVersion: '3',
    usesInitramfs: true,
  };
}

const codes = async (t: CheckTarget) => (await checkNode(t)).map((p) => p.code);

describe('checkNode: rules as named data', () => {
  it('every rule has a unique code and a fix', () => {
    const rules = [...DIRECTORY_RULES, NODE_DIR_RULE, ...NODE_RULES];
    expect(new Set(rules.map((r) => r.code)).size).toBe(rules.length);
    for (const r of rules) expect(r.fix, r.code).toBeTruthy();
  });

  it('reads config.txt as the firmware does: a [0x<serial>] section applies to this board', async () => {
    // The old boot-tree parser ignored serial sections and reported NO_KERNEL for kernel8.img.
    const t = await pi4Node('serialsection', {
      config: 'arm_64bit=1\n[0x7a1b2c3d]\nkernel=custom.img\n[all]\n',
      cmdline: 'console=tty1 root=/dev/nfs nfsroot=10.0.0.1:ROOT,vers=3 rw ip=dhcp rootwait\n',
      files: ['custom.img'],
    });
    expect(await codes(t)).toEqual([]);
    const other = await pi4Node('othersection', {
      config: 'arm_64bit=1\n[0x11111111]\nkernel=custom.img\n[all]\n',
      cmdline: 'console=tty1 root=/dev/nfs nfsroot=10.0.0.1:ROOT,vers=3 rw ip=dhcp rootwait\n',
      files: ['custom.img'],
    });
    expect(await codes(other)).toEqual(['NO_KERNEL']);
  });

  it('reads nfsroot as the kernel does: nfsvers=3 is version 3 (the old rule only knew vers=)', async () => {
    const t = await pi4Node('nfsvers', {
      config: 'arm_64bit=1\n',
      cmdline: 'root=/dev/nfs nfsroot=10.0.0.1:ROOT,nfsvers=3 rw ip=dhcp rootwait\n',
      files: ['kernel8.img'],
    });
    expect(await codes(t)).toEqual([]);
    const v4 = await pi4Node('nfsv4', {
      config: 'arm_64bit=1\n',
      cmdline: 'root=/dev/nfs nfsroot=10.0.0.1:ROOT,v4.1 rw ip=dhcp rootwait\n',
      files: ['kernel8.img'],
    });
    expect(await codes(v4)).toEqual(['NFS_VERSION_INITRAMFS']);
    // No vers= means nfsmount's default (v3): the old check called that an error, the simulator did not.
    const unset = await pi4Node('nfsdefault', {
      config: 'arm_64bit=1\n',
      cmdline: 'root=/dev/nfs nfsroot=10.0.0.1:ROOT rw ip=dhcp rootwait\n',
      files: ['kernel8.img'],
    });
    expect(await codes(unset)).toEqual([]);
  });

  it("checks the model's own device tree from the table, not any bcm2711 one", async () => {
    const t = await pi4Node('wrongdtb', {
      config: 'arm_64bit=1\n',
      cmdline: 'root=/dev/nfs nfsroot=10.0.0.1:ROOT,vers=3 rw ip=dhcp rootwait\n',
      files: ['kernel8.img'],
    });
    const cm4: CheckTarget = { ...t, node: { ...t.node, model: 'cm4' } };
    const problems = await checkNode(cm4);
    expect(problems.map((p) => p.code)).toEqual(['NO_DTB']);
    expect(problems[0]?.message).toContain('bcm2711-rpi-cm4.dtb');
  });
});
