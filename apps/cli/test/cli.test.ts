import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bramble, tempDir } from './helpers.js';

const COMMANDS = [
  [],
  ['init'],
  ['schema'],
  ['image'],
  ['image', 'add'],
  ['image', 'ls'],
  ['image', 'inspect'],
  ['image', 'rm'],
  ['image', 'extract'],
  ['node'],
  ['node', 'add'],
  ['node', 'ls'],
  ['node', 'rm'],
  ['node', 'check'],
  ['node', 'adopt'],
  ['node', 'provision'],
  ['dhcp'],
  ['dhcp', 'config'],
  ['nfs'],
  ['nfs', 'config'],
  ['nfs', 'apply'],
  ['serve'],
  ['tftp'],
  ['tftp', 'serve'],
  ['tftp', 'get'],
  ['doctor'],
  ['demo'],
];

describe('bramble binary: conventions', () => {
  it('prints --version and exits 0', async () => {
    const r = await bramble(['--version']);
    expect(r.exitCode).toBe(0);
    expect(String(r.stdout).trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('every command has --help with examples and exits 0', async () => {
    const queue = [...COMMANDS];
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let cmd = queue.shift(); cmd; cmd = queue.shift()) {
          const r = await bramble([...cmd, '--help']);
          const out = String(r.stdout);
          if (r.exitCode !== 0 || !out.includes('Usage: bramble') || !out.includes('Examples:'))
            failures.push(`${cmd.join(' ') || '(top)'}: exit ${r.exitCode}`);
        }
      }),
    );
    expect(failures).toEqual([]);
  });

  it('exits 2 on usage errors: unknown command, unknown option, missing argument, bad choice', async () => {
    for (const args of [
      [],
      ['node'],
      ['no-such-command'],
      ['node', 'ls', '--no-such-option'],
      ['tftp', 'get', 'only-host'],
      ['dhcp', 'config', '--format', 'bogus'],
      ['tftp', 'get', '127.0.0.1', 'f', '--blksize', '3'],
    ]) {
      const r = await bramble(args);
      expect(r.exitCode, args.join(' ')).toBe(2);
    }
  });

  it('lists every manifest problem by path and exits 1', async () => {
    const dir = await tempDir('bad');
    const file = join(dir, 'bramble.yaml');
    await writeFile(
      file,
      `server: { address: 10.0.0.300 }
images: { a: ./a.img }
nodes:
  - { hostname: n1, serial: 12345678, image: a }
  - { hostname: n2, serial: 1234567z, image: a }
  - { hostname: n3, serial: '0x12345678', image: b }
`,
    );
    const r = await bramble(['-c', file, 'node', 'ls']);
    expect(r.exitCode).toBe(1);
    const err = String(r.stderr);
    expect(err).toContain('server.address: expected an IPv4 address');
    expect(err).toContain("nodes[1].serial: serial '1234567z' is not 8 hex digits");
    expect(err).toContain("nodes[2].image: unknown image 'b'");
    expect(err).toContain("nodes[2].serial: duplicate serial '12345678' (also nodes[0])");
  });

  it('prints the manifest JSON Schema', async () => {
    const r = await bramble(['schema']);
    expect(r.exitCode).toBe(0);
    const schema = JSON.parse(String(r.stdout)) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['server', 'nodes', 'images', 'tftp', 'dhcp', 'nfs']),
    );
  });

  it('init writes a manifest, refuses to overwrite it, and listings print JSON with --json', async () => {
    const dir = await tempDir('init');
    const file = join(dir, 'bramble.yaml');
    expect((await bramble(['-c', file, 'init', '--server', '10.1.2.3', '--state', './state'])).exitCode).toBe(
      0,
    );
    expect((await bramble(['-c', file, 'init', '--server', '10.1.2.3'])).exitCode).toBe(2);
    const ls = await bramble(['-c', file, 'node', 'ls', '--json']);
    expect(ls.exitCode).toBe(0);
    expect(JSON.parse(String(ls.stdout))).toEqual([]);
    const images = await bramble(['-c', file, '--json', 'image', 'ls']);
    expect(JSON.parse(String(images.stdout))).toEqual([]);
    expect(
      JSON.parse(String((await bramble(['-c', file, 'node', 'ls', '--discovered', '--json'])).stdout)),
    ).toEqual([]);
    // no colours when not on a TTY
    expect(String((await bramble(['-c', file, 'node', 'ls'])).stdout)).not.toContain('\u001b[');
  });
});

describe('one model table (@bramble/pi) behind every command', () => {
  async function manifest(tag: string, nodes: string): Promise<string> {
    const dir = await tempDir(tag);
    const file = join(dir, 'bramble.yaml');
    await writeFile(
      file,
      `server: { address: 10.3.0.1 }\nstateDir: ./state\nimages: { a: ./a.img }\nnodes:\n${nodes}`,
    );
    return file;
  }

  it('node add --help lists every model of the table, pi500 and cm5 included', async () => {
    const help = String((await bramble(['node', 'add', '--help'])).stdout).replace(/\s+/g, ' ');
    expect(help).toContain('pi3b, pi3b+, pi3a+, pizero2w, pi4, pi400, cm4, pi5, pi500, cm5');
  });

  it('doctor --model accepts pi500 like node add does (it used to exit 2)', async () => {
    const file = await manifest(
      'doctor500',
      '  - { hostname: n1, serial: 7a1b2c3d, image: a, model: pi500 }\n',
    );
    const r = await bramble(['-c', file, '--json', 'doctor', '--model', 'pi500']);
    expect(r.exitCode, r.stderr).not.toBe(2);
    expect(r.stderr).not.toContain('Allowed choices');
  });

  it('dhcp config gives a manifest with a pi3b node the trailing-space option 43, in every format', async () => {
    const file = await manifest(
      'dhcp3b',
      '  - { hostname: old, serial: 6b8b4567, image: a, model: pi3b }\n  - { hostname: new, mac: dc:a6:32:01:36:c2, image: a, model: pi4, address: 10.3.0.20 }\n',
    );
    const dnsmasq = await bramble(['-c', file, 'dhcp', 'config', '--format', 'dnsmasq']);
    expect(dnsmasq.exitCode, dnsmasq.stderr).toBe(0);
    expect(dnsmasq.stdout).toContain('pxe-service=0,"Raspberry Pi Boot   "');
    const padded = Buffer.from('Raspberry Pi Boot   ').toString('hex');
    const kea = await bramble(['-c', file, 'dhcp', 'config', '--format', 'kea']);
    expect(kea.stdout.toLowerCase()).toContain(padded);
    const isc = await bramble(['-c', file, 'dhcp', 'config', '--format', 'isc']);
    expect(isc.stdout.replaceAll(':', '')).toContain(padded);
    const without = await manifest(
      'dhcp4',
      '  - { hostname: new, mac: dc:a6:32:01:36:c2, image: a, model: pi4 }\n',
    );
    const plain = await bramble(['-c', without, 'dhcp', 'config', '--format', 'dnsmasq']);
    expect(plain.stdout).toMatch(/^pxe-service=0,"Raspberry Pi Boot"$/m);
  });

  it('doctor notices a DHCP config without the trailing-space option 43 when a pi3b node exists', async () => {
    const file = await manifest(
      'doctor3b',
      '  - { hostname: old, serial: 6b8b4567, image: a, model: pi3b }\n',
    );
    const conf = join(file, '..', 'dnsmasq.conf');
    await writeFile(conf, 'dhcp-range=10.3.0.0,proxy\npxe-service=0,"Raspberry Pi Boot"\n');
    const r = await bramble(['-c', file, '--json', 'doctor', '--dhcp-config', conf]);
    expect(r.exitCode).toBe(1);
    const findings = JSON.parse(r.stdout) as { check: string; ok: boolean; detail: string }[];
    const o43 = findings.filter((f) => f.check === 'option 43');
    expect(o43).toEqual([
      expect.objectContaining({ ok: false, detail: expect.stringContaining('need "Raspberry Pi Boot   "') }),
    ]);
    // The config bramble generates passes the same check.
    const generated = await bramble(['-c', file, 'dhcp', 'config', '--format', 'dnsmasq-proxy']);
    await writeFile(conf, generated.stdout);
    const again = await bramble(['-c', file, '--json', 'doctor', '--dhcp-config', conf]);
    const fixed = (JSON.parse(again.stdout) as { check: string; ok: boolean }[]).filter(
      (f) => f.check === 'option 43',
    );
    expect(fixed).toEqual([expect.objectContaining({ ok: true })]);
  });
});
