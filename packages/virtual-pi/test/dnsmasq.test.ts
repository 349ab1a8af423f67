import { dnsmasqConfig } from '@bramble/dhcp';
import { isRoot } from '@bramble/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PiModel } from '../src/index.js';
import { createNetbootLab, type NetbootLab } from './helpers/netboot-lab.js';
import { makeTftpTree, type Tree } from './helpers/tree.js';

/**
 * Real peer: dnsmasq DHCP + TFTP in one namespace, configured like the official Raspberry Pi network-boot guide
 * (`pxe-service=0,"Raspberry Pi Boot"`, `enable-tftp`, `tftp-root`, `log-dhcp`); virtual Pis in the other
 * namespace use the real ports 67/68, broadcast DISCOVERs and TFTP on port 69.
 */
describe.runIf(isRoot())('virtual Pis against dnsmasq in a network namespace', () => {
  let lab: NetbootLab;
  let tree: Tree;
  const models: PiModel[] = ['pi3b+', 'pi4', 'pi400', 'cm4', 'pi5'];
  const serials = ['0660cd37', '7a1b2c3d', '7a1b2c3e', 'e45f0101', '9ffefdef'];
  const dhcp = { server: '255.255.255.255', attempts: 2, retryIntervalMs: 3000 };

  beforeAll(async () => {
    lab = await createNetbootLab('vpi');
    tree = await makeTftpTree({ dirs: [...serials, '6b8b4567'], nfsServer: lab.serverAddress });
  });
  afterAll(async () => {
    await lab?.destroy();
    await tree?.cleanup();
  });

  it('every model boots at once from dnsmasq with the official-guide config (full DHCP)', async () => {
    await lab.startDnsmasq({ tftpRoot: tree.root });
    const storm = await lab.storm({ count: models.length, models, serials, dhcp });
    const failures = storm.reports
      .filter((r) => r.verdict !== 'would boot')
      .map((r) => `${r.model}: ${r.reason}`);
    expect(failures).toEqual([]);
    for (const r of storm.reports) {
      expect(r.dhcp?.tftpServer, r.model).toBe(lab.serverAddress);
      expect(r.dhcp?.tftpServerFrom).toBe('option 54');
      // dnsmasq's pxe-service=0,"Raspberry Pi Boot": discovery control 3, prompt "PXE", one menu item (32 bytes).
      expect(r.dhcp?.option43).toBe(
        `0601030a04005058450914000011${Buffer.from('Raspberry Pi Boot').toString('hex')}ff`,
      );
      expect(r.dhcp?.address).toMatch(/^10\.250\.\d+\.1\d\d$/);
      expect(r.tftp).toEqual({ host: lab.serverAddress, port: 69 });
      expect(r.nfsRoot?.server).toBe(lab.serverAddress);
      expect(r.prefix).toBe(`${r.serial}/`);
      // Pi 4/5 complete DORA; the Pi 3 ROM never sends DHCPREQUEST.
      const actions = r.steps.filter((s) => s.protocol === 'dhcp').map((s) => s.action);
      expect(actions).toEqual(
        r.model === 'pi3b+' ? ['DISCOVER', 'OFFER'] : ['DISCOVER', 'OFFER', 'REQUEST', 'ACK'],
      );
    }
    const log = lab.dnsmasq?.output() ?? '';
    // dnsmasq saw what real Pis send: the Pi 3 ROM xid (653460281 = 0x26f30339) and the PXE vendor class.
    expect(log).toContain('653460281');
    expect(log).toContain('PXEClient:Arch:00000:UNDI:002001');
    expect(log).toMatch(/sent .*0660cd37\/start\.elf/);
  });

  it('Pi 3B: dnsmasq\'s plain "Raspberry Pi Boot" is not enough, the trailing-spaces form boots', async () => {
    await lab.startDnsmasq({ tftpRoot: tree.root });
    const plain = await lab.boot({ model: 'pi3b', serial: '6b8b4567', dhcp: { ...dhcp, attempts: 1 } });
    expect(plain.verdict).toBe('would not boot');
    expect(plain.reason).toBe(
      "option 43 has 'Raspberry Pi Boot' but not the trailing-spaces form the Pi 3B ROM needs",
    );
    await lab.startDnsmasq({ tftpRoot: tree.root, pxe: 'Raspberry Pi Boot   ' });
    const spaced = await lab.boot({ model: 'pi3b', serial: '6b8b4567', dhcp });
    expect(spaced.verdict).toBe('would boot');
    // Sub-option 9 grows to 0x17 bytes: the 35-byte option 43 of pi-netboot.md §1.3.
    expect(spaced.dhcp?.option43).toBe(
      `0601030a04005058450917000014${Buffer.from('Raspberry Pi Boot   ').toString('hex')}ff`,
    );
  });

  it('Pi 3B boots from the dnsmasq config @bramble/dhcp generates for a network with a pi3b node', async () => {
    const subnet = lab.serverAddress.split('.').slice(0, 3).join('.');
    const network = (models: ('pi3b' | 'pi4')[]) =>
      dnsmasqConfig({
        serverAddress: lab.serverAddress,
        interface: lab.link.ifA,
        mode: 'full',
        subnet: {
          network: `${subnet}.0`,
          netmask: '255.255.255.0',
          rangeStart: `${subnet}.100`,
          rangeEnd: `${subnet}.199`,
        },
        nodes: models.map((model, i) => ({ hostname: `node${i}`, model })),
      });
    // Without a pi3b node the model table asks for the plain form, which the Pi 3B ROM rejects.
    const plainConfig = network(['pi4']);
    expect(plainConfig).toContain('pxe-service=0,"Raspberry Pi Boot"\n');
    await lab.startDnsmasq({ tftpRoot: tree.root, config: plainConfig });
    const plain = await lab.boot({ model: 'pi3b', serial: '6b8b4567', dhcp: { ...dhcp, attempts: 1 } });
    expect(plain.verdict).toBe('would not boot');
    expect(plain.reason).toContain('trailing-spaces form the Pi 3B ROM needs');
    // With one: the padded form, and the virtual Pi 3B boots through real dnsmasq.
    const spacedConfig = network(['pi4', 'pi3b']);
    expect(spacedConfig).toContain('pxe-service=0,"Raspberry Pi Boot   "');
    await lab.startDnsmasq({ tftpRoot: tree.root, config: spacedConfig });
    const spaced = await lab.boot({ model: 'pi3b', serial: '6b8b4567', dhcp });
    expect(spaced.verdict, spaced.reason).toBe('would boot');
    expect(spaced.dhcp?.option43).toBe(
      `0601030a04005058450917000014${Buffer.from('Raspberry Pi Boot   ').toString('hex')}ff`,
    );
    // The padded form does not hurt the other models (the Pi 4 EEPROM ignores trailing characters).
    const pi4 = await lab.boot({ model: 'pi4', serial: '7a1b2c3d', dhcp });
    expect(pi4.verdict, pi4.reason).toBe('would boot');
  });

  it('no pxe-service (no option 43): "no option 43 with \'Raspberry Pi Boot\' in any offer"', async () => {
    await lab.startDnsmasq({ tftpRoot: tree.root, pxe: false });
    const r = await lab.boot({ model: 'pi4', serial: '7a1b2c3d', dhcp: { ...dhcp, attempts: 1 } });
    expect(r.verdict).toBe('would not boot');
    expect(r.reason).toBe("no option 43 with 'Raspberry Pi Boot' in any offer");
    expect(r.dhcp?.offers).toBeGreaterThan(0);
    expect(r.steps.some((s) => s.protocol === 'tftp')).toBe(false);
  });

  it('proxyDHCP mode (dhcp-range=<broadcast>,proxy as in the official guide): Pi 4 takes TFTP from the proxy', async () => {
    await lab.startDnsmasq({ tftpRoot: tree.root, proxy: true });
    const r = await lab.boot({ model: 'pi4', serial: '7a1b2c3d', dhcp });
    expect(r.verdict).toBe('would boot');
    expect(r.dhcp?.tftpServer).toBe(lab.serverAddress);
    expect(r.warnings.join('\n')).toContain('proxyDHCP');
  });
});
