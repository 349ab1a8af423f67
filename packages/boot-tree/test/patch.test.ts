import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BootTreeError,
  type NfsVersion,
  parseOsRelease,
  patchCmdline,
  patchConfigTxt,
  patchFstab,
  patchHosts,
  releaseFromOsRelease,
  sdCardLines,
} from '../src/index.js';

const fixture = (release: string, file: string) =>
  readFileSync(join(import.meta.dirname, 'fixtures', release, file), 'utf8');

const SERVER = '10.0.0.1';
const ROOT = '/srv/bramble/nfs/node1';
const BOOT = '/srv/bramble/tftp/d9780558';

function release(r: string) {
  return releaseFromOsRelease(parseOsRelease(fixture(r, 'os-release')));
}

describe('golden: real cmdline.txt of each release', () => {
  const cases: [string, string][] = [
    [
      'stretch',
      'dwc_otg.lpm_enable=0 console=serial0,115200 console=tty1 elevator=deadline quiet root=/dev/nfs nfsroot=10.0.0.1:/srv/bramble/nfs/node1,vers=4.1 rw ip=dhcp rootwait\n',
    ],
    [
      'buster',
      'console=serial0,115200 console=tty1 elevator=deadline quiet root=/dev/nfs nfsroot=10.0.0.1:/srv/bramble/nfs/node1,vers=4.1 rw ip=dhcp rootwait\n',
    ],
    [
      'bullseye',
      'console=serial0,115200 console=tty1 quiet root=/dev/nfs nfsroot=10.0.0.1:/srv/bramble/nfs/node1,vers=4.1 rw ip=dhcp rootwait\n',
    ],
    [
      'bookworm',
      'console=serial0,115200 console=tty1 quiet root=/dev/nfs nfsroot=10.0.0.1:/srv/bramble/nfs/node1,vers=3 rw ip=dhcp rootwait\n',
    ],
    [
      'trixie',
      'console=serial0,115200 console=tty1 root=/dev/nfs nfsroot=10.0.0.1:/srv/bramble/nfs/node1,vers=3 rw ip=dhcp rootwait\n',
    ],
  ];
  for (const [r, expected] of cases) {
    it(`${r}: release-aware NFS root, first-boot/resize hooks removed, unknown tokens kept`, () => {
      const rel = release(r);
      const out = patchCmdline(fixture(r, 'cmdline.txt'), {
        nfsServer: SERVER,
        nfsPath: ROOT,
        nfsVersion: rel.defaultNfsVersion,
      });
      expect(out).toBe(expected);
      expect(patchCmdline(out, { nfsServer: SERVER, nfsPath: ROOT, nfsVersion: rel.defaultNfsVersion })).toBe(
        out,
      );
    });
  }

  it('removes Imager first-run hooks and an earlier nfsroot/ip, joins lines into one', () => {
    const imager =
      'console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target cfg80211.ieee80211_regdom=GB\n';
    const out = patchCmdline(imager, { nfsServer: SERVER, nfsPath: ROOT, nfsVersion: '3' });
    expect(out).toBe(
      'console=serial0,115200 console=tty1 quiet cfg80211.ieee80211_regdom=GB root=/dev/nfs nfsroot=10.0.0.1:/srv/bramble/nfs/node1,vers=3 rw ip=dhcp rootwait\n',
    );
    const moved = patchCmdline(`${out}\nextra=1\n`, {
      nfsServer: '10.0.0.2',
      nfsPath: '/x',
      nfsVersion: '4.1',
    });
    expect(moved).toBe(
      'console=serial0,115200 console=tty1 quiet cfg80211.ieee80211_regdom=GB extra=1 root=/dev/nfs nfsroot=10.0.0.2:/x,vers=4.1 rw ip=dhcp rootwait\n',
    );
  });

  it('rejects bad server, path and version with a typed error', () => {
    const bad = [
      { nfsServer: '10.0.0.1,proto=udp', nfsPath: ROOT, nfsVersion: '3' },
      { nfsServer: SERVER, nfsPath: 'relative/path', nfsVersion: '3' },
      { nfsServer: SERVER, nfsPath: '/a b', nfsVersion: '3' },
      { nfsServer: SERVER, nfsPath: '/a/../etc', nfsVersion: '3' },
      { nfsServer: SERVER, nfsPath: ROOT, nfsVersion: '5' },
    ];
    for (const o of bad) {
      expect(() => patchCmdline('x', o)).toThrowError(BootTreeError);
      try {
        patchCmdline('x', o);
      } catch (e) {
        expect((e as BootTreeError).code).toBe('INVALID_INPUT');
      }
    }
  });
});

describe('golden: real fstab of each release', () => {
  it('stretch/buster/bullseye: SD lines gone, comments kept, boot dir at /boot over NFSv4.1', () => {
    for (const r of ['stretch', 'buster', 'bullseye']) {
      const rel = release(r);
      const out = patchFstab(fixture(r, 'fstab'), {
        nfsServer: SERVER,
        bootPath: BOOT,
        bootMount: rel.bootMount,
        nfsVersion: rel.defaultNfsVersion,
      });
      expect(out).toBe(
        [
          'proc            /proc           proc    defaults          0       0',
          '# a swapfile is not a swap partition, no line here',
          '#   use  dphys-swapfile swap[on|off]  for that',
          '# bramble: boot directory over NFS',
          '10.0.0.1:/srv/bramble/tftp/d9780558  /boot  nfs  defaults,vers=4.1,noatime,nofail  0  0',
          '',
        ].join('\n'),
      );
      expect(sdCardLines(out)).toEqual([]);
    }
  });

  it('bookworm/trixie: boot dir at /boot/firmware over NFSv3 with nolock', () => {
    for (const r of ['bookworm', 'trixie']) {
      const rel = release(r);
      const out = patchFstab(fixture(r, 'fstab'), {
        nfsServer: SERVER,
        bootPath: BOOT,
        bootMount: rel.bootMount,
        nfsVersion: rel.defaultNfsVersion,
      });
      expect(out).toBe(
        [
          'proc            /proc           proc    defaults          0       0',
          '# bramble: boot directory over NFS',
          '10.0.0.1:/srv/bramble/tftp/d9780558  /boot/firmware  nfs  defaults,vers=3,nolock,noatime,nofail  0  0',
          '',
        ].join('\n'),
      );
    }
  });

  it('keeps other mounts, drops mmcblk and listed image devices', () => {
    const text = [
      '# /etc/fstab',
      'proc /proc proc defaults 0 0',
      '/dev/mmcblk0p1 /boot vfat defaults 0 2',
      '/dev/mmcblk0p3 /data ext4 defaults 0 2',
      'UUID=1234-ABCD /boot/firmware vfat defaults 0 2',
      'LABEL=rootfs / ext4 defaults 0 1',
      'LABEL=data /srv ext4 defaults 0 2',
      'tmpfs /tmp tmpfs defaults,size=100m 0 0',
    ].join('\n');
    const out = patchFstab(text, {
      nfsServer: 'server.lan',
      bootPath: BOOT,
      bootMount: '/boot/firmware',
      nfsVersion: '4.2',
      imageDevices: ['LABEL=data'],
    });
    expect(out.split('\n')).toEqual([
      '# /etc/fstab',
      'proc /proc proc defaults 0 0',
      'tmpfs /tmp tmpfs defaults,size=100m 0 0',
      '# bramble: boot directory over NFS',
      'server.lan:/srv/bramble/tftp/d9780558  /boot/firmware  nfs  defaults,vers=4.2,noatime,nofail  0  0',
      '',
    ]);
  });
});

describe('config.txt', () => {
  const bookworm = fixture('bookworm', 'config.txt');
  it('leaves the initramfs on for NFSv3', () => {
    expect(patchConfigTxt(bookworm, { nfsVersion: '3', usesInitramfs: true })).toBe(bookworm);
  });
  it('switches auto_initramfs off for NFSv4 on an initramfs release', () => {
    const out = patchConfigTxt(bookworm, { nfsVersion: '4.1', usesInitramfs: true });
    expect(out).toContain('\nauto_initramfs=0\n');
    expect(out).not.toContain('auto_initramfs=1');
    expect(out.replace('auto_initramfs=0', 'auto_initramfs=1')).toBe(bookworm);
  });
  it('adds auto_initramfs=0 before the first section and comments explicit initramfs lines', () => {
    const out = patchConfigTxt('arm_64bit=1\ninitramfs initramfs8 followkernel\n[pi4]\nx=1\n', {
      nfsVersion: '4',
      usesInitramfs: true,
    });
    expect(out).toBe(
      'arm_64bit=1\n#bramble (NFSv4 needs no initramfs): initramfs initramfs8 followkernel\nauto_initramfs=0\n[pi4]\nx=1\n',
    );
  });
  it('drops comments to fit 4 KiB, else throws CONFIG_TOO_LARGE', () => {
    const big = `${'# comment line that wastes space in config.txt\n'.repeat(100)}dtparam=audio=on\n`;
    expect(Buffer.byteLength(big)).toBeGreaterThan(4096);
    expect(patchConfigTxt(big, { nfsVersion: '3', usesInitramfs: false })).toBe('dtparam=audio=on\n');
    const huge = 'dtoverlay=some-overlay,param=value\n'.repeat(200);
    expect(() => patchConfigTxt(huge, { nfsVersion: '3', usesInitramfs: false })).toThrowError(
      expect.objectContaining({ code: 'CONFIG_TOO_LARGE' }),
    );
  });
});

describe('hosts', () => {
  it('replaces the 127.0.1.1 line of a stock Raspberry Pi OS hosts file', () => {
    const stock =
      '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n\n127.0.1.1\t\traspberrypi\n';
    expect(patchHosts(stock, 'node1')).toBe(
      '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n\n127.0.1.1\tnode1\n',
    );
  });
  it('inserts after 127.0.0.1 when missing', () => {
    expect(patchHosts('127.0.0.1 localhost\n10.0.0.5 nas\n', 'n2')).toBe(
      '127.0.0.1 localhost\n127.0.1.1\tn2\n10.0.0.5 nas\n',
    );
  });
});

describe('properties (fast-check): patch(patch(x)) = patch(x), unknown content kept in order', () => {
  const token = fc.stringMatching(/^[a-z0-9_.=,:/-]{1,16}$/);
  const known = fc.constantFrom(
    'root=PARTUUID=abcd-02',
    'rootfstype=ext4',
    'fsck.repair=yes',
    'rootwait',
    'resize',
    'rw',
    'ro',
    'init=/usr/lib/raspberrypi-sys-mods/firstboot',
    'init=/usr/lib/raspi-config/init_resize.sh',
    'systemd.run=/boot/firstrun.sh',
    'nfsroot=1.2.3.4:/old,vers=4.1,proto=tcp',
    'ip=dhcp',
    'quiet',
    '\n',
  );
  const cmdline = fc.array(fc.oneof(token, known), { maxLength: 30 }).map((a) => a.join(' '));
  const vers = fc.constantFrom<NfsVersion>('3', '4', '4.1', '4.2');
  const opts = fc.record({
    nfsServer: fc.constantFrom('10.0.0.1', 'nfs.lan'),
    nfsPath: fc.stringMatching(/^\/[a-z0-9/_-]{0,20}$/),
    nfsVersion: vers,
  });

  it('cmdline: idempotent, exactly one line, unknown tokens kept in order', () => {
    fc.assert(
      fc.property(cmdline, opts, (text, o) => {
        const once = patchCmdline(text, o);
        expect(patchCmdline(once, o)).toBe(once);
        expect(once.endsWith('\n')).toBe(true);
        expect(once.slice(0, -1)).not.toContain('\n');
        const ours =
          /^(root|rootfstype|fsck\.repair|nfsroot|ip|systemd\.run[a-z_]*)=|^(rootwait|resize|rw|ro|init=\/usr\/lib\/raspberrypi-sys-mods\/firstboot|init=\/usr\/lib\/raspi-config\/init_resize\.sh)$/;
        const unknown = text.split(/\s+/).filter((t) => t !== '' && !ours.test(t));
        const kept = once.split(' ').slice(0, unknown.length);
        expect(kept).toEqual(unknown);
      }),
      { numRuns: 300 },
    );
  });

  const fstabLine = fc.oneof(
    fc.constantFrom(
      'proc /proc proc defaults 0 0',
      'PARTUUID=abcd-01 /boot vfat defaults 0 2',
      'PARTUUID=abcd-01 /boot/firmware vfat defaults 0 2',
      'PARTUUID=abcd-02 / ext4 defaults,noatime 0 1',
      '/dev/mmcblk0p2 / ext4 defaults 0 1',
      '# comment',
      '',
      '   ',
      'tmpfs /tmp tmpfs defaults 0 0',
      '10.0.0.9:/x /boot/firmware nfs vers=3 0 0',
      '# bramble: boot directory over NFS',
    ),
    fc.stringMatching(/^[a-zA-Z0-9=/#:. \t-]{0,40}$/),
  );
  const fstab = fc.array(fstabLine, { maxLength: 15 }).map((a) => a.join('\n'));

  it('fstab: idempotent and never leaves an SD-card line', () => {
    fc.assert(
      fc.property(
        fstab,
        fc.constantFrom<'/boot' | '/boot/firmware'>('/boot', '/boot/firmware'),
        vers,
        (text, bootMount, v) => {
          const o = { nfsServer: '10.0.0.1', bootPath: '/srv/tftp/abcd1234', bootMount, nfsVersion: v };
          const once = patchFstab(text, o);
          expect(patchFstab(once, o)).toBe(once);
          expect(sdCardLines(once)).toEqual([]);
          expect(once.split('\n').filter((l) => l.includes(`  ${bootMount}  nfs  `))).toHaveLength(1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('config.txt and hosts: idempotent', () => {
    const cfgLine = fc.oneof(
      fc.constantFrom(
        'auto_initramfs=1',
        'initramfs initramfs8 followkernel',
        '[pi4]',
        '[all]',
        '# c',
        '',
        'arm_64bit=1',
      ),
      fc.stringMatching(/^[a-z0-9_=#[\] ]{0,30}$/),
    );
    fc.assert(
      fc.property(
        fc.array(cfgLine, { maxLength: 20 }).map((a) => a.join('\n')),
        vers,
        fc.boolean(),
        (text, v, initramfs) => {
          const o = { nfsVersion: v, usesInitramfs: initramfs };
          const once = patchConfigTxt(text, o);
          expect(patchConfigTxt(once, o)).toBe(once);
        },
      ),
      { numRuns: 300 },
    );
    const hostsLine = fc.oneof(
      fc.constantFrom('127.0.0.1\tlocalhost', '127.0.1.1\traspberrypi', '127.0.1.1', '::1 localhost', ''),
      fc.stringMatching(/^[a-z0-9. \t:]{0,30}$/),
    );
    fc.assert(
      fc.property(
        fc.array(hostsLine, { maxLength: 10 }).map((a) => a.join('\n')),
        (text) => {
          const once = patchHosts(text, 'node7');
          expect(patchHosts(once, 'node7')).toBe(once);
          expect(once.split('\n').filter((l) => l.startsWith('127.0.1.1'))).toEqual(['127.0.1.1\tnode7']);
        },
      ),
      { numRuns: 300 },
    );
  });
});
