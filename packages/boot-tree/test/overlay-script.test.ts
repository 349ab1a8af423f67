/**
 * Issue 17: the initramfs overlay script, run for real by sh: its parsing functions directly, and the
 * overlay assembly as root in a private mount namespace (unshare -m) with a local base directory bound
 * read-only in place of the NFS base and a real ext4 upper volume (mke2fs on a sparse file, loop-mounted).
 */
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OVERLAY_SCRIPT } from '../src/shared-root/initramfs.js';

let work: string;
let script: string;
const isRoot = process.getuid?.() === 0;

beforeAll(async () => {
  requireTool('mke2fs');
  requireTool('unshare');
  work = await mkdtemp(join(tmpdir(), 'bt-overlay-'));
  script = join(work, 'bramble-overlay');
  await writeFile(script, OVERLAY_SCRIPT);
  await chmod(script, 0o755);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Run `body` after sourcing the script's functions. */
const lib = (body: string, env: Record<string, string> = {}) =>
  execa('sh', ['-c', `. "${script}"\n${body}`], {
    env: { BRAMBLE_OVERLAY_LIB: '1', ...env },
    reject: false,
    timeout: 30_000,
  });

describe('overlay script: parsing', () => {
  it('passes sh -n and answers prereqs', async () => {
    expect((await execa('sh', ['-n', script])).exitCode).toBe(0);
    const r = await execa('sh', [script, 'prereqs']);
    expect(r.stdout.trim()).toBe('');
  });

  it('reads bramble.* parameters and NFS options from the command line', async () => {
    const cmdline =
      'console=tty1 root=/dev/nfs nfsroot=10.0.0.1:/srv/base,vers=3 ro bramble.base=10.0.0.1:/srv/base bramble.layer=10.0.0.1:/srv/nfs/n1 bramble.upper=tmpfs';
    const r = await lib(
      'bramble_param base; bramble_param layer; bramble_param upper; bramble_nfs_opts; bramble_param nope || echo absent',
      { BRAMBLE_CMDLINE: cmdline },
    );
    expect(r.stdout.split('\n')).toEqual([
      '10.0.0.1:/srv/base',
      '10.0.0.1:/srv/nfs/n1',
      'tmpfs',
      'vers=3,nolock',
      'absent',
    ]);
    const v4 = await lib('bramble_nfs_opts', { BRAMBLE_CMDLINE: 'nfsroot=s:/b,vers=4.1,tcp' });
    expect(v4.stdout).toBe('vers=4.1');
  });

  it('does nothing without bramble.base= (copy-mode nodes)', async () => {
    const r = await lib('rootmnt=/nonexistent; bramble_main; echo "rc=$?"', {
      BRAMBLE_CMDLINE: 'root=/dev/nfs',
    });
    expect(r.stdout).toBe('rc=0');
  });

  it('refuses a base that is neither SERVER:/PATH nor /PATH', async () => {
    const r = await lib(`bramble_mount_src relative "${work}/x" ro; echo "rc=$?"`);
    expect(r.stdout).toBe('rc=1');
    expect(r.stderr).toMatch(/neither/);
  });
});

describe('overlay script: what a klibc initramfs lacks', () => {
  it("runs cp and rm the initramfs lacks from the base, through the base's own loader", async () => {
    // The host's / stands in for the base; PATH has no cp/rm, as in a klibc-only initramfs.
    const run = join(work, 'run-base-exec');
    await mkdir(run, { recursive: true });
    await rm(join(run, 'base'), { force: true });
    await symlink('/', join(run, 'base'));
    await mkdir(join(work, 'src/d'), { recursive: true });
    await writeFile(join(work, 'src/d/f'), 'copied\n', { mode: 0o640 });
    const r = await lib(
      `PATH=/nonexistent; command -v cp || echo "no cp"; bramble_tool cp -a "${work}/src/." "${work}/dst/" && IFS= read -r line < "${work}/dst/d/f" && echo "$line"; bramble_tool rm -rf "${work}/dst/d"; [ -e "${work}/dst/d" ] || echo removed`,
      { BRAMBLE_RUN: run },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['no cp', 'copied', 'removed']);
    expect((await stat(join(work, 'src/d/f'))).mode & 0o777).toBe(0o640);
    const missing = await lib('PATH=/nonexistent; bramble_tool no-such-tool; echo "rc=$?"', {
      BRAMBLE_RUN: run,
    });
    expect(missing.stdout).toBe('rc=127');
    expect(missing.stderr).toMatch(/no no-such-tool in the initramfs or the base/);
  });

  it('loads the appended modules of the running kernel in order, skipping loaded and modprobe-able ones', async () => {
    const bin = join(work, 'fake-bin');
    const mods = join(work, 'modules');
    await mkdir(bin, { recursive: true });
    await mkdir(join(mods, 'kv-test'), { recursive: true });
    const tool = async (name: string, body: string) => {
      await writeFile(join(bin, name), `#!/bin/sh\n${body}\n`);
      await chmod(join(bin, name), 0o755);
    };
    await tool('uname', 'echo kv-test');
    await tool('modprobe', 'echo "modprobe $*" >&2; [ "$2" = in-initramfs ]');
    await tool('insmod', 'echo "insmod $1"');
    // /sys/module/kernel exists on every Linux: a module already there is skipped.
    await writeFile(join(mods, 'kv-test/load'), 'fake-dash.ko.xz\nkernel.ko\nin-initramfs.ko\nlast.ko\n');
    const r = await lib(`PATH=${bin}:/usr/bin:/bin; bramble_load_modules`, { BRAMBLE_MODULES: mods });
    expect(r.stdout.split('\n')).toEqual([
      `insmod ${mods}/kv-test/fake-dash.ko.xz`,
      `insmod ${mods}/kv-test/last.ko`,
    ]);
    const none = await lib(`PATH=${bin}:/usr/bin:/bin; bramble_load_modules; echo "rc=$?"`, {
      BRAMBLE_MODULES: join(work, 'no-modules'),
    });
    expect(none.stdout).toBe('rc=0');
  });
});

describe.skipIf(!isRoot)('overlay script: assembly in a mount namespace', () => {
  let base: string;
  let layer: string;
  let runDir: string;
  let rootmnt: string;

  beforeAll(async () => {
    base = join(work, 'base');
    layer = join(work, 'layer');
    await mkdir(join(base, 'etc'), { recursive: true });
    await mkdir(join(base, 'var/lib'), { recursive: true });
    await writeFile(join(base, 'etc/hostname'), 'raspberrypi\n');
    await writeFile(join(base, 'etc/os-release'), 'ID=debian\n');
    await writeFile(join(base, 'etc/motd-to-remove'), 'bye\n');
    await mkdir(join(layer, 'identity/etc/ssh'), { recursive: true });
    await writeFile(join(layer, 'identity/etc/hostname'), 'node1\n');
    await writeFile(join(layer, 'identity/etc/ssh/ssh_host_ed25519_key'), 'KEY\n', { mode: 0o600 });
    await writeFile(join(layer, 'identity.removed'), '/etc/motd-to-remove\n../escape\n');
    await writeFile(join(layer, 'identity.stamp'), 'stamp-1\n');
    await truncate(join(layer, 'upper.ext4'), 0).catch(() => undefined);
    await writeFile(join(layer, 'upper.ext4'), '');
    await truncate(join(layer, 'upper.ext4'), 64 * 1024 * 1024);
    await execa('mke2fs', ['-q', '-F', '-t', 'ext4', join(layer, 'upper.ext4')]);
    runDir = join(work, 'run');
    rootmnt = join(work, 'root');
    await mkdir(rootmnt, { recursive: true });
  }, 60_000);

  /** Boot once: assemble in a fresh namespace, then run `after` against the assembled root. */
  const boot = (upper: 'volume' | 'tmpfs', after: string) =>
    execa(
      'unshare',
      [
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        `. "${script}"\nrootmnt="${rootmnt}"\nbramble_main || exit 9\n${after}`,
      ],
      {
        env: {
          BRAMBLE_OVERLAY_LIB: '1',
          BRAMBLE_RUN: runDir,
          BRAMBLE_CMDLINE: `root=/dev/nfs bramble.base=${base} bramble.layer=${layer} bramble.upper=${upper}`,
          PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        },
        reject: false,
        timeout: 60_000,
      },
    );

  it('assembles base + identity + ext4 upper; writes persist across boots; the base is untouched', async () => {
    const first = await boot(
      'volume',
      `cat "$rootmnt/etc/hostname" "$rootmnt/etc/os-release" "$rootmnt/etc/ssh/ssh_host_ed25519_key"
       test -e "$rootmnt/etc/motd-to-remove" && echo still-there
       echo written > "$rootmnt/etc/node-file" && echo wrote
       echo base-ro > "${base}/etc/direct" 2>/dev/null || true
       grep -c " $rootmnt overlay " /proc/mounts`,
    );
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    expect(first.stdout.split('\n')).toEqual(['node1', 'ID=debian', 'KEY', 'wrote', '1']);
    // The base was neither written through the overlay nor had its removed file deleted.
    expect(await readFile(join(base, 'etc/hostname'), 'utf8')).toBe('raspberrypi\n');
    expect(await readFile(join(base, 'etc/motd-to-remove'), 'utf8')).toBe('bye\n');
    await expect(readFile(join(base, 'etc/node-file'))).rejects.toThrow();

    // Second boot: the change is in the upper volume; the identity is not re-applied over it.
    const second = await boot(
      'volume',
      `cat "$rootmnt/etc/node-file"; echo edited > "$rootmnt/etc/hostname"; cat "$rootmnt/var/lib/bramble/identity.stamp"`,
    );
    expect(second.exitCode).toBe(0);
    expect(second.stdout.split('\n')).toEqual(['written', 'stamp-1']);
    const third = await boot('volume', 'cat "$rootmnt/etc/hostname"');
    expect(third.stdout).toBe('edited');
  }, 120_000);

  it('re-applies a changed identity on the next boot', async () => {
    await writeFile(join(layer, 'identity/etc/hostname'), 'node1-renamed\n');
    await writeFile(join(layer, 'identity.stamp'), 'stamp-2\n');
    const r = await boot('volume', 'cat "$rootmnt/etc/hostname" "$rootmnt/etc/node-file"');
    expect(r.stdout.split('\n')).toEqual(['node1-renamed', 'written']);
  }, 60_000);

  it('tmpfs upper: stateless, identity applied on every boot', async () => {
    const a = await boot('tmpfs', `echo gone > "$rootmnt/etc/temp"; cat "$rootmnt/etc/hostname"`);
    expect(a.exitCode).toBe(0);
    expect(a.stdout).toBe('node1-renamed');
    const b = await boot(
      'tmpfs',
      `test -e "$rootmnt/etc/temp" && echo kept || echo lost; cat "$rootmnt/etc/hostname"`,
    );
    expect(b.stdout.split('\n')).toEqual(['lost', 'node1-renamed']);
  }, 60_000);

  it('fails clearly when the upper volume is missing', async () => {
    const other = join(work, 'layer-empty');
    await mkdir(other, { recursive: true });
    const r = await execa(
      'unshare',
      [
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        `. "${script}"\nrootmnt="${rootmnt}"\nbramble_main; echo "rc=$?"`,
      ],
      {
        env: {
          BRAMBLE_OVERLAY_LIB: '1',
          BRAMBLE_RUN: join(work, 'run2'),
          BRAMBLE_CMDLINE: `bramble.base=${base} bramble.layer=${other}`,
          PATH: process.env.PATH ?? '/usr/bin:/bin',
        },
        reject: false,
        timeout: 30_000,
      },
    );
    expect(r.stdout).toBe('rc=1');
    expect(r.stderr).toMatch(/upper\.ext4 missing/);
  }, 60_000);
});
