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
