import { describe, expect, it } from 'vitest';
import { cmdlineProblems, parseCmdline } from '../src/index.js';

describe('parseCmdline', () => {
  it('extracts the NFS root, version and ip= from the first line only', () => {
    const c = parseCmdline(
      'console=serial0,115200 console=tty1 root=/dev/nfs nfsroot=10.0.0.1:/nfs/node1,vers=3,tcp rw ip=dhcp rootwait\nignored=1\n',
    );
    expect(c.root).toBe('/dev/nfs');
    expect(c.nfsroot).toEqual({
      server: '10.0.0.1',
      path: '/nfs/node1',
      version: '3',
      options: ['vers=3', 'tcp'],
    });
    expect(c.ip).toBe('dhcp');
    expect(c.params.has('ignored')).toBe(false);
    expect(cmdlineProblems(c, { initramfs: true }).fatal).toEqual([]);
  });

  it('reads piserver-style v3 and a server-less nfsroot', () => {
    expect(parseCmdline('root=/dev/nfs nfsroot=10.1.1.1:/os,v3 ip=dhcp').nfsroot?.version).toBe('3');
    const c = parseCmdline('root=/dev/nfs nfsroot=/srv/nfs/a ip=dhcp');
    expect(c.nfsroot?.server).toBeUndefined();
    expect(c.nfsroot?.path).toBe('/srv/nfs/a');
  });

  it('says "cmdline.txt has no nfsroot=" for a stock SD-card cmdline', () => {
    const c = parseCmdline(
      'console=serial0,115200 console=tty1 root=PARTUUID=1234abcd-02 rootfstype=ext4 rootwait',
    );
    expect(cmdlineProblems(c, { initramfs: false }).fatal[0]).toMatch(/^cmdline\.txt has no nfsroot=/);
  });

  it('flags vers=4.1,proto=tcp with an initramfs (klibc nfsmount) but not without one', () => {
    const c = parseCmdline('root=/dev/nfs nfsroot=10.0.0.1:/host/,vers=4.1,proto=tcp,port=2049 rw ip=dhcp');
    expect(c.nfsroot?.version).toBe('4.1');
    const withInitrd = cmdlineProblems(c, { initramfs: true }).fatal;
    expect(withInitrd.some((p) => p.includes('vers=4.1'))).toBe(true);
    expect(withInitrd.some((p) => p.includes('proto='))).toBe(true);
    expect(cmdlineProblems(c, { initramfs: false }).fatal).toEqual([]);
  });

  it('needs ip= and root=/dev/nfs, and warns about firstboot init=', () => {
    expect(
      cmdlineProblems(parseCmdline('root=/dev/nfs nfsroot=1.2.3.4:/x'), { initramfs: false }).fatal[0],
    ).toContain('no ip=');
    expect(
      cmdlineProblems(parseCmdline('root=/dev/mmcblk0p2 nfsroot=1.2.3.4:/x ip=dhcp'), { initramfs: false })
        .fatal[0],
    ).toContain('root=/dev/mmcblk0p2');
    const p = cmdlineProblems(
      parseCmdline('root=/dev/nfs nfsroot=1.2.3.4:/x ip=dhcp init=/usr/lib/raspberrypi-sys-mods/firstboot'),
      { initramfs: false },
    );
    expect(p.fatal).toEqual([]);
    expect(p.warnings[0]).toContain('firstboot');
  });
});
