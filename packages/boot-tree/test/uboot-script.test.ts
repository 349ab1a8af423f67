// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} are U-Boot script variables, not JS placeholders
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeUbootScript, provisionNode, UBOOT_SCRIPT_NAME, ubootNetbootScript } from '../src/index.js';
import { makeImage } from './helpers/synthetic-image.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'bt-uboot-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('U-Boot netboot script', () => {
  it('is byte-identical to what mkimage makes of the same text (time 0)', async () => {
    const text = ubootNetbootScript();
    await writeFile(join(work, 'script.txt'), text);
    await execa(
      requireTool('mkimage'),
      [
        '-A',
        'arm64',
        '-O',
        'linux',
        '-T',
        'script',
        '-C',
        'none',
        '-n',
        'bramble netboot',
        '-d',
        join(work, 'script.txt'),
        join(work, 'mk.uimg'),
      ],
      { env: { SOURCE_DATE_EPOCH: '0' } },
    );
    expect(encodeUbootScript(text).equals(await readFile(join(work, 'mk.uimg')))).toBe(true);
  });

  it('dumpimage extracts the script text back', async () => {
    const text = ubootNetbootScript({ kernel: 'Image', initramfs: 'initrd.img' });
    await writeFile(join(work, 'ours.uimg'), encodeUbootScript(text));
    await execa(requireTool('dumpimage'), [
      '-T',
      'script',
      '-p',
      '0',
      '-o',
      join(work, 'out.txt'),
      join(work, 'ours.uimg'),
    ]);
    // The payload: the length table (one length, then 0) and the text.
    const out = await readFile(join(work, 'out.txt'));
    expect(out.readUInt32BE(0)).toBe(Buffer.byteLength(text));
    expect(out.readUInt32BE(4)).toBe(0);
    expect(out.subarray(8).toString('utf8')).toBe(text);
    expect(text).toContain('${bramble_dir}/Image');
    expect(text).toContain('${bramble_dir}/initrd.img');
    expect(text).toContain('${bramble_dir}/cmdline.txt');
  });

  it('refuses boot file names that would change the script', () => {
    expect(() => ubootNetbootScript({ kernel: 'k; reset' })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
    expect(() => ubootNetbootScript({ initramfs: '../x' })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
    expect(() => encodeUbootScript('x'.repeat(70_000))).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
  });

  it('provisionNode writes boot.scr.uimg at the TFTP root for MAC nodes only', async () => {
    const image = { name: 'bookworm-lite', ...(await makeImage(join(work, 'img'), 'bookworm')) };
    const common = { image, nfsServer: '10.0.0.1', hostKeyTypes: [] as [] };
    const bySerial = join(work, 'tftp-serial');
    await provisionNode({
      ...common,
      tftpRoot: bySerial,
      nfsRoot: join(work, 'nfs-serial'),
      node: { hostname: 'n1', serial: 'd9780558', image: 'bookworm-lite' },
    });
    await expect(readFile(join(bySerial, UBOOT_SCRIPT_NAME))).rejects.toThrow();
    const byMac = join(work, 'tftp-mac');
    const layout = await provisionNode({
      ...common,
      tftpRoot: byMac,
      nfsRoot: join(work, 'nfs-mac'),
      node: { hostname: 'n2', mac: '52:54:00:12:34:56', image: 'bookworm-lite' },
    });
    expect(layout.changes).toContain(`tftp:${UBOOT_SCRIPT_NAME}`);
    expect(
      (await readFile(join(byMac, UBOOT_SCRIPT_NAME))).equals(encodeUbootScript(ubootNetbootScript())),
    ).toBe(true);
  });
});
