import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { freeUdpPort, startPeer, waitFor } from '@bramble/testkit';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { bin, bramble, sampleImage, tempDir } from './helpers.js';

/** The oracles and real images of @bramble/eeprom's tests (raspberrypi/rpi-eeprom, BSD-3-Clause). */
const fixtures = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  'packages',
  'eeprom',
  'test',
  'fixtures',
  'rpi-eeprom',
);
const IMAGES = { '2711': 'pieeprom-2711-2026-08-04.bin', '2712': 'pieeprom-2712-2026-06-29.bin' } as const;

async function unpack(dir: string, name: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, gunzipSync(await readFile(join(fixtures, `${name}.gz`))));
  return path;
}

async function rpiEepromConfig(args: readonly string[]) {
  const r = await execa('python3', [join(fixtures, 'rpi-eeprom-config'), ...args], {
    reject: false,
    encoding: 'buffer',
    stripFinalNewline: false,
    timeout: 60_000,
  });
  return { exitCode: r.exitCode, stdout: Buffer.from(r.stdout), stderr: Buffer.from(r.stderr).toString() };
}

async function rpiEepromDigest(image: string, sig: string, ts: number, chip: string): Promise<string> {
  await execa('sh', [join(fixtures, 'rpi-eeprom-digest'), '-c', chip, '-i', image, '-o', sig], {
    env: { SOURCE_DATE_EPOCH: String(ts) },
    timeout: 60_000,
  });
  return readFile(sig, 'utf8');
}

const TS = '1767225600';

describe('bramble eeprom: show, config, recovery (real images, rpi-eeprom-config as oracle)', () => {
  let dir: string;
  let pi4: string;
  let pi5: string;
  let recovery: string;
  beforeAll(async () => {
    dir = await tempDir('eeprom');
    pi4 = await unpack(dir, IMAGES['2711']);
    pi5 = await unpack(dir, IMAGES['2712']);
    recovery = await unpack(dir, 'recovery-2711.bin');
  });

  it('every eeprom command has --help with examples', async () => {
    for (const cmd of [[], ['show'], ['config'], ['recovery'], ['rollout']]) {
      const r = await bramble(['eeprom', ...cmd, '--help']);
      expect(r.exitCode, cmd.join(' ')).toBe(0);
      expect(r.stdout, cmd.join(' ')).toMatch(/Usage: bramble eeprom[\s\S]*Examples:/);
    }
  });

  it('show prints the embedded bootconf.txt byte for byte like rpi-eeprom-config FILE', async () => {
    for (const image of [pi4, pi5]) {
      const r = await bramble(['eeprom', 'show', image], { stripFinalNewline: false });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toBe((await rpiEepromConfig([image])).stdout.toString());
    }
    const sections = await bramble(['eeprom', 'show', pi5, '--sections']);
    expect(sections.stdout).toMatch(/667648\s+78\s+0x55aaf11f\s+bootconf\.txt/);
    const json = JSON.parse((await bramble(['eeprom', 'show', pi5, '--json'])).stdout) as {
      chip: string;
      abImage: boolean;
      settings: Record<string, string>;
    };
    expect(json).toMatchObject({ chip: '2712', abImage: true, settings: { BOOT_ORDER: '0xf461' } });
  });

  it('config --set writes pieeprom.upd + .sig identical to rpi-eeprom-config + rpi-eeprom-digest', async () => {
    const out = join(dir, 'upd');
    const r = await bramble([
      'eeprom',
      'config',
      '--image',
      pi5,
      '--set',
      'BOOT_ORDER=0xf21',
      '--set',
      'TFTP_PREFIX=2',
      '--set',
      'TFTP_IP=192.168.1.10',
      '--unset',
      'NET_INSTALL_AT_POWER_ON',
      '--out',
      out,
      '--timestamp',
      TS,
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    const conf = join(dir, 'expected.conf');
    await writeFile(conf, '[all]\nBOOT_UART=1\nBOOT_ORDER=0xf21\nTFTP_PREFIX=2\nTFTP_IP=192.168.1.10\n');
    const py = await rpiEepromConfig([
      '--config',
      conf,
      '--timestamp',
      TS,
      '--out',
      join(dir, 'py.upd'),
      pi5,
    ]);
    expect(py.exitCode, py.stderr).toBe(0);
    expect((await readFile(join(out, 'pieeprom.upd'))).equals(await readFile(join(dir, 'py.upd')))).toBe(
      true,
    );
    expect(await readFile(join(out, 'pieeprom.sig'), 'utf8')).toBe(
      await rpiEepromDigest(join(dir, 'py.upd'), join(dir, 'py.sig'), Number(TS), '2712'),
    );

    // --bootconf FILE as the base, SOURCE_DATE_EPOCH pins the timestamp like rpi-eeprom-digest
    const base = join(dir, 'fleet.conf');
    await writeFile(base, '[all]\nBOOT_ORDER=0xf12\nTFTP_FILE_TIMEOUT=300000\n');
    const fromFile = await bramble(['eeprom', 'config', '--image', pi4, '--bootconf', base, '--out', out], {
      env: { SOURCE_DATE_EPOCH: TS },
    });
    expect(fromFile.exitCode, fromFile.stderr).toBe(0);
    const py4 = await rpiEepromConfig([
      '--config',
      base,
      '--timestamp',
      TS,
      '--out',
      join(dir, 'py4.upd'),
      pi4,
    ]);
    expect(py4.exitCode).toBe(0);
    expect((await readFile(join(out, 'pieeprom.upd'))).equals(await readFile(join(dir, 'py4.upd')))).toBe(
      true,
    );
  });

  it('bad input: typed errors and exit 1; usage errors exit 2', async () => {
    const cases: [string[], number, RegExp][] = [
      [['eeprom', 'config', '--image', pi4, '--set', 'BOOT_ORDER=0xf9', '--out', dir], 1, /INVALID_CONFIG/],
      [['eeprom', 'config', '--image', pi4, '--set', 'MY_KEY=1', '--out', dir], 1, /not a documented/],
      [['eeprom', 'config', '--image', pi4, '--set', 'DHCP_TIMEOUT=100', '--out', dir], 1, /5000/],
      [['eeprom', 'show', join(dir, 'missing.bin')], 1, /\[IO\]/],
      [['eeprom', 'show', sampleImage], 1, /\[BAD_SIZE\]/],
      [['eeprom', 'config', '--image', pi4], 2, /--out DIR is required/],
      [['eeprom', 'config', '--out', dir], 2, /--image/],
      [['eeprom', 'config', '--image', pi4, '--timestamp', 'soon', '--out', dir], 2, /--timestamp/],
      [['eeprom', 'recovery', '--image', pi4, '--out', dir], 2, /--recovery-bin/],
      [['eeprom'], 2, /Usage: bramble eeprom/],
    ];
    for (const [args, code, message] of cases) {
      const r = await bramble(args);
      expect(r.exitCode, args.join(' ')).toBe(code);
      expect(r.stderr + r.stdout, args.join(' ')).toMatch(message);
    }
    const corrupt = join(dir, 'corrupt.bin');
    const bytes = await readFile(pi4);
    bytes.writeUInt32BE(0xdeadbeef, 73128);
    await writeFile(corrupt, bytes);
    const r = await bramble(['eeprom', 'show', corrupt]);
    expect([r.exitCode, r.stderr]).toEqual([1, expect.stringMatching(/\[BAD_MAGIC\]/)]);
    const allowed = await bramble([
      'eeprom',
      'config',
      '--image',
      pi4,
      '--set',
      'MY_KEY=1',
      '--allow-unknown',
      '--out',
      join(dir, 'unknown'),
    ]);
    expect(allowed.exitCode, allowed.stderr).toBe(0);
    expect((await bramble(['eeprom', 'show', join(dir, 'unknown', 'pieeprom.upd')])).stdout).toContain(
      'MY_KEY=1',
    );
  });

  it('recovery writes the SD-card layout (recovery.bin + pieeprom.upd + pieeprom.sig)', async () => {
    const card = join(dir, 'card');
    const r = await bramble([
      'eeprom',
      'recovery',
      '--image',
      pi4,
      '--recovery-bin',
      recovery,
      '--set',
      'BOOT_ORDER=0xf21',
      '--out',
      card,
      '--timestamp',
      TS,
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await readdir(card)).sort()).toEqual(['pieeprom.sig', 'pieeprom.upd', 'recovery.bin']);
    expect((await readFile(join(card, 'recovery.bin'))).equals(await readFile(recovery))).toBe(true);
    expect((await rpiEepromConfig([join(card, 'pieeprom.upd')])).stdout.toString()).toContain(
      'BOOT_ORDER=0xf21',
    );
    expect(r.stdout).toContain('FAT-formatted SD card');
  });
});

describe('bramble eeprom rollout: a real provisioned node tree', () => {
  let dir: string;
  let pi4: string;
  let pi5: string;
  const tftp = (name: string) => join(dir, 'state', 'tftp', name);

  beforeAll(async () => {
    dir = await tempDir('rollout');
    pi4 = await unpack(dir, IMAGES['2711']);
    pi5 = await unpack(dir, IMAGES['2712']);
    await copyFile(sampleImage, join(dir, 'raspios.img.xz'));
    const add = (args: string[]) => bramble(['-q', 'node', 'add', ...args], { cwd: dir });
    const first = await add([
      'rpi-4',
      '--serial',
      '7a1b2c3d',
      '--model',
      'pi4',
      '--image',
      './raspios.img.xz',
      '--nfs-server',
      '192.168.1.10',
      '--state',
      './state',
    ]);
    expect(first.exitCode, first.stderr).toBe(0);
    for (const args of [
      ['rpi-5', '--mac', 'dc:a6:32:01:36:c2', '--model', 'pi5', '--image', 'raspios'],
      ['rpi-3', '--serial', '9ffefdef', '--model', 'pi3b+', '--image', 'raspios'],
    ]) {
      const r = await add(args);
      expect(r.exitCode, r.stderr).toBe(0);
    }
  }, 300_000);

  it('places per-node pieeprom.upd/.sig with the TFTP_PREFIX of each node’s directory', async () => {
    const r4 = await bramble(
      [
        'eeprom',
        'rollout',
        'rpi-4',
        '--image',
        pi4,
        '--set',
        'BOOT_ORDER=0xf21',
        '--timestamp',
        TS,
        '--json',
      ],
      { cwd: dir },
    );
    expect(r4.exitCode, r4.stderr).toBe(0);
    expect(JSON.parse(r4.stdout)).toEqual([
      { node: 'rpi-4', model: 'pi4', soc: '2711', prefix: '0', dir: tftp('7a1b2c3d') },
    ]);
    // what the official tool reads back, and the .sig the official digest makes of the placed image
    const upd4 = join(tftp('7a1b2c3d'), 'pieeprom.upd');
    const conf4 = (await rpiEepromConfig([upd4])).stdout.toString();
    expect(conf4).toMatch(/BOOT_ORDER=0xf21\nTFTP_PREFIX=0\n$/);
    expect(await readFile(join(tftp('7a1b2c3d'), 'pieeprom.sig'), 'utf8')).toBe(
      await rpiEepromDigest(upd4, join(dir, 'check.sig'), Number(TS), '2711'),
    );

    const r5 = await bramble(['eeprom', 'rollout', 'rpi-5', '--image', pi5, '--set', 'BOOT_ORDER=0xf21'], {
      cwd: dir,
    });
    expect(r5.exitCode, r5.stderr).toBe(0);
    const conf5 = (
      await rpiEepromConfig([join(tftp('dc-a6-32-01-36-c2'), 'pieeprom.upd')])
    ).stdout.toString();
    expect(conf5).toContain('TFTP_PREFIX=2\n');

    // config --node: the same per-node TFTP_PREFIX, written to a directory of your choice
    const cfg = await bramble(
      [
        'eeprom',
        'config',
        '--image',
        pi5,
        '--node',
        'rpi-5',
        '--set',
        'BOOT_ORDER=0xf21',
        '--out',
        join(dir, 'n5'),
      ],
      { cwd: dir },
    );
    expect(cfg.exitCode, cfg.stderr).toBe(0);
    expect((await rpiEepromConfig([join(dir, 'n5', 'pieeprom.upd')])).stdout.toString()).toContain(
      'TFTP_PREFIX=2\n',
    );
    const wrong = await bramble(
      ['eeprom', 'config', '--image', pi4, '--node', 'rpi-5', '--out', join(dir, 'n5')],
      {
        cwd: dir,
      },
    );
    expect([wrong.exitCode, wrong.stderr]).toEqual([1, expect.stringMatching(/MODEL_MISMATCH/)]);

    const status = JSON.parse(
      (await bramble(['eeprom', 'rollout', '--status', '--json'], { cwd: dir })).stdout,
    ) as {
      node: string;
      state: string;
      timestamp?: number;
    }[];
    expect(status.map((s) => [s.node, s.state])).toEqual([
      ['rpi-4', 'pending'],
      ['rpi-5', 'pending'],
      ['rpi-3', 'none'],
    ]);
    expect(status[0]?.timestamp).toBe(Number(TS));
  });

  it('refuses wrong models, a prefix that misses the directory, and a BOOT_ORDER without network — placing nothing', async () => {
    const before = await readdir(tftp('9ffefdef'));
    const placed = await readFile(join(tftp('7a1b2c3d'), 'pieeprom.sig'), 'utf8');
    const cases: [string[], RegExp][] = [
      [['rpi-4', 'rpi-5', '--image', pi4, '--set', 'BOOT_ORDER=0xf21'], /MODEL_MISMATCH.*rpi-5 is a pi5/],
      [['rpi-3', '--image', pi4, '--set', 'BOOT_ORDER=0xf21'], /no bootloader EEPROM/],
      [['rpi-4', '--image', pi4, '--set', 'BOOT_ORDER=0xf21', '--set', 'TFTP_PREFIX=2'], /PREFIX_MISMATCH/],
      [['rpi-4', '--image', pi4], /NO_NETWORK_BOOT.*0xf41/],
      [['rpi-9', '--image', pi4], /not in the manifest: rpi-9/],
    ];
    for (const [args, message] of cases) {
      const r = await bramble(['eeprom', 'rollout', ...args], { cwd: dir });
      expect(r.exitCode, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    expect(await readdir(tftp('9ffefdef'))).toEqual(before);
    // rpi-4 passed its checks in the mixed run, but nothing is placed unless every node passes
    expect(await readFile(join(tftp('7a1b2c3d'), 'pieeprom.sig'), 'utf8')).toBe(placed);
    const usage = await bramble(['eeprom', 'rollout', '--image', pi4], { cwd: dir });
    expect(usage.exitCode).toBe(2);
  });

  it('the TFTP server serves the update: a virtual Pi 4 finds pieeprom.sig; a real TFTP fetch of pieeprom.upd shows in --status', async () => {
    // fresh files: the oracle checks above read the earlier ones
    for (const [node, image] of [
      ['rpi-4', pi4],
      ['rpi-5', pi5],
    ] as const) {
      const again = await bramble(
        ['eeprom', 'rollout', node, '--image', image, '--set', 'BOOT_ORDER=0xf21'],
        {
          cwd: dir,
        },
      );
      expect(again.exitCode, again.stderr).toBe(0);
    }
    const port = await freeUdpPort();
    const serve = startPeer(
      ['node', bin, 'serve', '--tftp-listen', `127.0.0.1:${port}`, '--http-listen', '127.0.0.1:0'],
      { cwd: dir },
    );
    try {
      await waitFor(() => serve.output().includes('HTTP on'), 20_000);
      const sim = await bramble(
        [
          'doctor',
          '--simulate',
          '--model',
          'pi4',
          '--serial',
          '7a1b2c3d',
          '--server',
          `127.0.0.1:${port}`,
          '--json',
        ],
        { cwd: dir },
      );
      const report = JSON.parse(sim.stdout) as { warnings: string[] };
      expect(report.warnings.join('\n')).toMatch(
        /pieeprom\.sig exists: a real Pi would try to update its EEPROM/,
      );
      const status = async () =>
        JSON.parse((await bramble(['eeprom', 'rollout', '--status', '--json'], { cwd: dir })).stdout) as {
          node: string;
          fetchedAt?: number;
        }[];
      // the .sig probe is not a fetch; the bootloader only fetches pieeprom.upd when it applies it.
      expect((await status()).map((s) => s.fetchedAt)).toEqual([undefined, undefined, undefined]);
      await new Promise((r) => setTimeout(r, 50));
      const got = join(dir, 'fetched.upd');
      const client = await execa(
        'tftp',
        ['127.0.0.1', String(port), '-m', 'binary', '-c', 'get', '7a1b2c3d/pieeprom.upd', got],
        { reject: false, timeout: 60_000 },
      );
      expect(client.exitCode, client.stderr).toBe(0);
      expect((await readFile(got)).equals(await readFile(join(tftp('7a1b2c3d'), 'pieeprom.upd')))).toBe(true);
      const after = await status();
      expect(after.map((s) => [s.node, typeof s.fetchedAt])).toEqual([
        ['rpi-4', 'number'],
        ['rpi-5', 'undefined'],
        ['rpi-3', 'undefined'],
      ]);
      const table = await bramble(['eeprom', 'rollout', '--status'], { cwd: dir });
      expect(table.stdout).toMatch(/rpi-4\s+pending\s+2711\s+\S+\s+0xf21\s+yes \d{4}-/);
      expect(table.stdout).toMatch(/rpi-5\s+pending\s+2712\s+\S+\s+0xf21\s+no/);
    } finally {
      await serve.stop();
    }
  });

  it('a mixed fleet in one run: one image per SoC, each node gets its own', async () => {
    const r = await bramble(
      [
        'eeprom',
        'rollout',
        'rpi-5',
        'rpi-4',
        '--image',
        pi4,
        '--image',
        pi5,
        '--set',
        'BOOT_ORDER=0xf21',
        '--json',
      ],
      { cwd: dir },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { node: string; soc: string; prefix: string }[];
    expect(rows.map((x) => [x.node, x.soc, x.prefix])).toEqual([
      ['rpi-4', '2711', '0'],
      ['rpi-5', '2712', '2'],
    ]);
    const twice = await bramble(['eeprom', 'rollout', 'rpi-4', '--image', pi4, '--image', pi4], { cwd: dir });
    expect([twice.exitCode, twice.stderr]).toEqual([
      2,
      expect.stringMatching(/two --image files for BCM2711/),
    ]);
    const one = await bramble(['eeprom', 'config', '--image', pi4, '--image', pi5, '--out', dir], {
      cwd: dir,
    });
    expect(one.exitCode).toBe(2);
  });

  it('--remove takes the files away again (one node, then all with --yes)', async () => {
    const one = await bramble(['eeprom', 'rollout', 'rpi-4', '--remove'], { cwd: dir });
    expect(one.exitCode, one.stderr).toBe(0);
    expect(one.stdout).toContain('removed 2 file(s) from 1 node(s)');
    expect((await readdir(tftp('7a1b2c3d'))).filter((f) => f.startsWith('pieeprom'))).toEqual([]);
    const noTty = await bramble(['eeprom', 'rollout', '--remove'], { cwd: dir });
    expect(noTty.exitCode).toBe(2);
    const all = await bramble(['--yes', 'eeprom', 'rollout', '--remove'], { cwd: dir });
    expect(all.exitCode, all.stderr).toBe(0);
    expect((await readdir(tftp('dc-a6-32-01-36-c2'))).filter((f) => f.startsWith('pieeprom'))).toEqual([]);
    const status = JSON.parse(
      (await bramble(['eeprom', 'rollout', '--status', '--json'], { cwd: dir })).stdout,
    ) as {
      state: string;
    }[];
    expect(status.map((s) => s.state)).toEqual(['none', 'none', 'none']);
  });
});
