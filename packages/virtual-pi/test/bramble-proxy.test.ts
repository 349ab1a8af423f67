import { createProxyDhcp } from '@bramble/dhcp';
import { freeUdpPort } from '@bramble/testkit';
import { createServer, fsHandler } from '@bramble/tftp';
import { afterEach, describe, expect, it } from 'vitest';
import { bootVirtualPi, formatReport, type PiModel, VirtualPiError } from '../src/index.js';
import { makeTftpTree, type Tree } from './helpers/tree.js';

const serial = '7a1b2c3d';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Bramble's proxyDHCP + TFTP server on loopback; replies go to the virtual Pi's client port. */
async function bramble(tree: Tree, clientPort: number, proxy = true) {
  const tftp = createServer({ handler: fsHandler(tree.root) });
  const { port: tftpPort } = await tftp.listen({ address: '127.0.0.1', port: 0 });
  cleanups.push(() => tftp.close());
  let dhcpPort = await freeUdpPort();
  if (proxy) {
    const dhcp = createProxyDhcp({
      serverAddress: '127.0.0.1',
      listenAddress: '127.0.0.1',
      port: 0,
      pxePort: false,
      clientPort,
      broadcastAddress: '127.0.0.1',
      replyDelayMs: 0,
    });
    await dhcp.listen();
    cleanups.push(() => dhcp.close());
    dhcpPort = dhcp.address().port;
  }
  return { tftpPort, dhcpPort };
}

async function boot(model: PiModel, tree: Tree, o: { proxy?: boolean; attempts?: number } = {}) {
  const clientPort = await freeUdpPort();
  const b = await bramble(tree, clientPort, o.proxy ?? true);
  return bootVirtualPi({
    model,
    serial,
    dhcp: {
      server: '127.0.0.1',
      port: b.dhcpPort,
      clientPort,
      localAddress: '127.0.0.1',
      attempts: o.attempts ?? 2,
      retryIntervalMs: 1500,
    },
    tftp: { port: b.tftpPort },
  });
}

describe('virtual Pis against Bramble proxyDHCP + TFTP on loopback', () => {
  it.each(['pi3b', 'pi4', 'pi5'] as const)(
    '%s gets a proxy offer, picks the TFTP server from it and boots',
    async (model) => {
      const tree = await makeTftpTree({ dirs: [serial] });
      cleanups.push(() => tree.cleanup());
      const r = await boot(model, tree);
      expect(r.verdict, formatReport(r)).toBe('would boot');
      expect(r.dhcp).toMatchObject({ offers: 1, server: '127.0.0.1', tftpServer: '127.0.0.1' });
      expect(r.steps[0]).toMatchObject({ protocol: 'dhcp', action: 'DISCOVER', outcome: 'ok' });
      expect(r.steps[1]).toMatchObject({ protocol: 'dhcp', action: 'OFFER', outcome: 'ok' });
      // A proxy gives no address; the report says so.
      expect(r.warnings.join('\n')).toContain('proxyDHCP');
    },
  );

  it('no DHCP server at all: "no DHCP offer"', async () => {
    const tree = await makeTftpTree({ dirs: [serial] });
    cleanups.push(() => tree.cleanup());
    const r = await boot('pi4', tree, { proxy: false, attempts: 1 });
    expect(r.verdict).toBe('would not boot');
    expect(r.reason).toMatch(/^no DHCP offer after 1 DHCPDISCOVER/);
  });

  it('missing start4.elf: "start4.elf not found under 7a1b2c3d/ and not in root"', async () => {
    // Neither start4.elf nor start.elf under the prefix: the EEPROM clears the prefix and tries the root.
    const tree = await makeTftpTree({ dirs: [serial], omit: ['start4.elf', 'start.elf'] });
    cleanups.push(() => tree.cleanup());
    const r = await boot('pi4', tree);
    expect(r.verdict).toBe('would not boot');
    expect(r.reason).toBe('start4.elf not found under 7a1b2c3d/ and not in root');
    // The firmware fell back from <serial>/start4.elf to <serial>/start.elf, then cleared the prefix.
    const tftp = r.steps.filter((s) => s.protocol === 'tftp').map((s) => s.target);
    expect(tftp.slice(0, 3)).toEqual([`${serial}/start4.elf`, `${serial}/start.elf`, 'config.txt']);
    expect(r.prefix).toBe('');
    expect(formatReport(r).split('\n')[0]).toBe(
      'pi4 serial 7a1b2c3d mac dc:a6:32:1b:2c:3d: WOULD NOT BOOT — start4.elf not found under 7a1b2c3d/ and not in root',
    );
    // Only start.elf there: the prefix is kept, and start4.elf is missing under it.
    const onlyPi3 = await makeTftpTree({ dirs: [serial], omit: ['start4.elf'] });
    cleanups.push(() => onlyPi3.cleanup());
    expect((await boot('pi4', onlyPi3)).reason).toBe('start4.elf not found under 7a1b2c3d/');
  });

  it('cmdline.txt without nfsroot=: "cmdline.txt has no nfsroot="', async () => {
    const tree = await makeTftpTree({
      dirs: [serial],
      cmdline:
        'console=serial0,115200 console=tty1 root=PARTUUID=6c586e13-02 rootfstype=ext4 fsck.repair=yes rootwait\n',
    });
    cleanups.push(() => tree.cleanup());
    const r = await boot('pi5', tree);
    expect(r.verdict).toBe('would not boot');
    expect(r.reason).toMatch(/^cmdline\.txt has no nfsroot=/);
    expect(r.cmdline).toContain('root=PARTUUID=6c586e13-02');
  });

  it('files in the TFTP root only: the prefix is cleared and the Pi boots from the root', async () => {
    const tree = await makeTftpTree({ dirs: [] });
    cleanups.push(() => tree.cleanup());
    const r = await boot('pi3b+', tree);
    expect(r.verdict, formatReport(r)).toBe('would boot');
    expect(r.prefix).toBe('');
    expect(r.kernel).toBe('kernel8.img');
  });

  it('config.txt decides the files: kernel=, initramfs followkernel, [pi4] sections, arm_64bit=0', async () => {
    const tree = await makeTftpTree({
      dirs: [serial],
      config:
        '[pi4]\nkernel=vmlinuz-custom\ninitramfs initrd-custom followkernel\n[pi5]\narm_64bit=0\n[all]\n',
    });
    cleanups.push(() => tree.cleanup());
    const r4 = await boot('pi4', tree);
    expect(r4.verdict).toBe('would not boot');
    expect(r4.reason).toBe(`vmlinuz-custom not found under ${serial}/ (kernel= in config.txt)`);
    const r3 = await boot('pi3b+', tree);
    // The Pi 3 ignores [pi4]; its default is 32-bit (arm_64bit=0): kernel7.img, then kernel.img.
    expect(r3.reason).toBe(`no kernel found under ${serial}/ (tried kernel7.img, kernel.img)`);
  });

  it('ignores garbage DHCP replies and silent TFTP servers end in a verdict, not a hang', async () => {
    const { createSocket } = await import('node:dgram');
    const junk = createSocket('udp4');
    await new Promise<void>((r) => junk.bind(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => junk.close(() => r())));
    const clientPort = await freeUdpPort();
    junk.on('message', (_m, from) => {
      // A truncated BOOTREPLY and random bytes, to the virtual Pi's port.
      junk.send(Buffer.from([2, 1, 6, 0, 0x26, 0xf3]), clientPort, from.address);
      junk.send(Buffer.alloc(400, 0xff), clientPort, from.address);
    });
    const r = await bootVirtualPi({
      model: 'pi3b',
      serial,
      dhcp: {
        server: '127.0.0.1',
        port: junk.address().port,
        clientPort,
        localAddress: '127.0.0.1',
        attempts: 1,
        retryIntervalMs: 500,
      },
    });
    expect(r.reason).toBe(`no DHCP offer after 1 DHCPDISCOVER to 127.0.0.1:${junk.address().port}`);
    // A "TFTP server" that never answers: the whole-boot limit turns into a verdict.
    const t = await bootVirtualPi({
      model: 'pi4',
      serial,
      dhcp: false,
      tftp: { host: '127.0.0.1', port: junk.address().port },
      timeoutMs: 800,
    });
    expect(t.verdict).toBe('would not boot');
    expect(t.reason).toBe('boot did not finish within 800 ms');
  });

  it('rejects bad options with a typed error', async () => {
    await expect(
      bootVirtualPi({ model: 'pi9' as PiModel, serial, dhcp: false, tftp: { host: '127.0.0.1' } }),
    ).rejects.toMatchObject({
      code: 'UNKNOWN_MODEL', // modelSpec() names the simulated models (checked after the option schema)
    });
    await expect(
      bootVirtualPi({ model: 'pi4', serial: 'zz', dhcp: false, tftp: { host: '127.0.0.1' } }),
    ).rejects.toBeInstanceOf(VirtualPiError);
    await expect(
      bootVirtualPi({ model: 'pi4', serial: 'zz', dhcp: false, tftp: { host: '127.0.0.1' } }),
    ).rejects.toMatchObject({ code: 'INVALID_SERIAL', message: expect.stringContaining('/proc/cpuinfo') });
    await expect(bootVirtualPi({ model: 'pi4', serial, dhcp: false })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
    });
  });
});
