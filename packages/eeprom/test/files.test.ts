import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildUpdate,
  parseSignature,
  readBootConf,
  readEepromImage,
  removeUpdateFiles,
  selfUpdateDisabledIn,
  updateStatus,
  verifySignature,
  writeRecoveryFiles,
  writeUpdateFiles,
} from '../src/index.js';
import { IMAGES, rpiEepromConfig, tempDir, unpack } from './oracle.js';

describe('update files on disk', () => {
  let dir: string;
  let pi4: string;
  let recoveryBin: string;
  beforeAll(async () => {
    dir = await tempDir('files');
    pi4 = await unpack(dir, IMAGES['2711']);
    recoveryBin = await unpack(dir, 'recovery-2711.bin');
  });

  it('writes pieeprom.upd + .sig readable by others, status sees them, remove takes them away', async () => {
    const image = await readEepromImage(pi4);
    const files = buildUpdate(image, {
      config: '[all]\nBOOT_ORDER=0xf21\nTFTP_PREFIX=2\n',
      timestamp: 1_800_000_000,
    });
    const node = join(dir, 'node');
    await import('node:fs/promises').then((fs) => fs.mkdir(node));
    const written = await writeUpdateFiles(node, files);
    expect((await stat(written.image)).mode & 0o777).toBe(0o644);
    expect((await readdir(node)).sort()).toEqual(['pieeprom.sig', 'pieeprom.upd']);
    const status = await updateStatus(node);
    expect(status).toMatchObject({
      present: true,
      valid: true,
      chip: '2711',
      timestamp: 1_800_000_000,
      settings: { BOOT_ORDER: '0xf21', TFTP_PREFIX: '2' },
    });

    expect(status.fetchedAt).toBeUndefined();
    // status reads with O_NOATIME, so asking twice does not look like a fetch …
    expect((await updateStatus(node)).fetchedAt).toBeUndefined();
    // … but a reader (the TFTP server) marks pieeprom.upd fetched (relatime: first read after a write)
    await new Promise((r) => setTimeout(r, 50));
    const sig = parseSignature(await readFile(written.signature, 'utf8'));
    expect(sig).toEqual({ sha256: expect.any(String), timestamp: 1_800_000_000, targetSoc: '2711' });
    verifySignature(await readFile(written.image), sig);
    // the official tool reads the config back from the file we placed
    const py = await rpiEepromConfig([written.image]);
    expect(py.stdout.toString()).toBe('[all]\nBOOT_ORDER=0xf21\nTFTP_PREFIX=2\n');

    const fetched = await updateStatus(node);
    expect(fetched.fetchedAt).toBeGreaterThan((await stat(written.image)).mtimeMs);
    expect(fetched.valid).toBe(true);

    // a stale .sig (another image) is reported, not trusted
    await writeFile(written.signature, `${'0'.repeat(64)}\nts: 1\n`);
    expect(await updateStatus(node)).toMatchObject({
      present: true,
      valid: false,
      problem: /does not match/,
    });
    await writeFile(written.signature, 'garbage');
    expect(await updateStatus(node)).toMatchObject({ present: true, valid: false, problem: /SHA-256/ });

    expect(await selfUpdateDisabledIn(node)).toBe(false);
    await writeFile(join(node, 'config.txt'), '[all]\nbootloader_update=0\n');
    expect(await selfUpdateDisabledIn(node)).toBe(true);

    expect(await removeUpdateFiles(node)).toHaveLength(2);
    expect(await readdir(node)).toEqual(['config.txt']);
    expect(await updateStatus(node)).toEqual({ present: false, valid: false });
    expect(await removeUpdateFiles(node)).toEqual([]);
  });

  it('the SD-card recovery layout: recovery.bin + pieeprom.upd + pieeprom.sig (+ recovery_wait for many boards)', async () => {
    const files = buildUpdate(await readFile(pi4), {
      config: '[all]\nBOOT_ORDER=0xf21\n',
      timestamp: 1_800_000_000,
    });
    const card = join(dir, 'card');
    await import('node:fs/promises').then((fs) => fs.mkdir(card));
    await writeRecoveryFiles(card, files, { recoveryBin, multiBoard: true });
    expect((await readdir(card)).sort()).toEqual([
      'config.txt',
      'pieeprom.sig',
      'pieeprom.upd',
      'recovery.bin',
    ]);
    expect(await readFile(join(card, 'config.txt'), 'utf8')).toBe('recovery_wait=1\n');
    expect((await readFile(join(card, 'recovery.bin'))).equals(await readFile(recoveryBin))).toBe(true);
    expect(readBootConf(await readFile(join(card, 'pieeprom.upd')))).toBe('[all]\nBOOT_ORDER=0xf21\n');

    const empty = join(dir, 'empty.bin');
    await writeFile(empty, '');
    await expect(writeRecoveryFiles(card, files, { recoveryBin: empty })).rejects.toMatchObject({
      code: 'INVALID_RECOVERY',
    });
    await expect(
      writeRecoveryFiles(card, files, { recoveryBin: join(dir, 'nope.bin') }),
    ).rejects.toMatchObject({ code: 'INVALID_RECOVERY' });
  });
});
