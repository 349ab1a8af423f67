import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildUpdate,
  EepromError,
  parseImage,
  readBootConf,
  readImageFile,
  replaceBootConf,
  setBootConf,
  setTimestamp,
} from '../src/index.js';
import { fixtures, IMAGES, rpiEepromConfig, rpiEepromDigest, tempDir, unpack } from './oracle.js';

const TS = 1_767_225_600; // 2026-01-01T00:00:00Z, pinned for both tools

/** Configs a fleet would use, from tiny to the 4076-byte maximum. */
async function configs(original: string): Promise<Record<string, { text: string; known: boolean }>> {
  return {
    'the image’s own': { text: original, known: true },
    'network boot by MAC': {
      text: setBootConf(original, {
        BOOT_ORDER: '0xf21',
        TFTP_PREFIX: '2',
        TFTP_IP: '192.168.1.10',
        DHCP_TIMEOUT: '45000',
        ENABLE_SELF_UPDATE: '1',
        NET_INSTALL_ENABLED: '0',
        NET_INSTALL_AT_POWER_ON: null,
      }),
      known: true,
    },
    'network only, fixed prefix, static IP': {
      text: '[all]\nBOOT_ORDER=0xf2\nTFTP_PREFIX=1\nTFTP_PREFIX_STR=7a1b2c3d/\nTFTP_IP=10.0.0.1\nCLIENT_IP=10.0.0.21\nSUBNET=255.255.255.0\nGATEWAY=10.0.0.1\n',
      known: true,
    },
    'minimal, no trailing newline': { text: '[all]\nBOOT_UART=1', known: true },
    'filters and comments': {
      text: `# fleet\n[all]\nBOOT_ORDER=0xf21\nNET_BOOT_MAX_RETRIES=-1\n\n[gpio7=0]\nNETCONSOLE=6665@169.254.1.1/,6666@/\n[none]\nFREEZE_VERSION=0\n[config.txt]\ndtoverlay=disable-bt\n${'# padding\n'.repeat(120)}`,
      known: true,
    },
    'the 4076-byte maximum (rpi-eeprom test/bootconf-4076.txt)': {
      text: await readFile(join(fixtures, 'bootconf-4076.txt'), 'utf8'),
      known: false,
    },
  };
}

describe.each(Object.entries(IMAGES))('BCM%s image vs rpi-eeprom-config', (chip, name) => {
  let dir: string;
  let imagePath: string;
  let bytes: Uint8Array;
  beforeAll(async () => {
    dir = await tempDir(`oracle-${chip}`);
    imagePath = await unpack(dir, name);
    bytes = await readFile(imagePath);
  });

  it('reads the embedded bootconf.txt exactly as `rpi-eeprom-config FILE` prints it', async () => {
    const py = await rpiEepromConfig([imagePath]);
    expect(py.exitCode, py.stderr).toBe(0);
    const image = parseImage(bytes);
    expect(image.chip).toBe(chip);
    expect(Buffer.from(readImageFile(image, 'bootconf.txt'))).toEqual(py.stdout);
    expect(readBootConf(image)).toMatch(/^\[all\]\n/);
  });

  it('writes pieeprom.upd + .sig byte-identical to rpi-eeprom-config --timestamp + rpi-eeprom-digest -c', async () => {
    const cases = await configs(readBootConf(bytes));
    let n = 0;
    for (const [label, { text, known }] of Object.entries(cases)) {
      n++;
      const conf = join(dir, `conf-${n}.txt`);
      await writeFile(conf, text);
      const upd = join(dir, `py-${n}.upd`);
      const py = await rpiEepromConfig([
        '--config',
        conf,
        '--timestamp',
        String(TS),
        '--out',
        upd,
        imagePath,
      ]);
      expect(py.exitCode, `${label}: ${py.stderr}`).toBe(0);
      const pySig = await rpiEepromDigest(upd, join(dir, `py-${n}.sig`), TS, chip);

      const ours = buildUpdate(bytes, {
        config: text,
        timestamp: TS,
        ...(known ? {} : { unknownKeys: 'pass' as const }),
      });
      const expected = await readFile(upd);
      expect(Buffer.from(ours.image).equals(expected), label).toBe(true);
      expect(ours.signature, label).toBe(pySig);
      expect(ours.signature).toMatch(new RegExp(`^[0-9a-f]{64}\\nts: ${TS}\\ntarget-soc: ${chip}\\n$`));
      // and what the Python tool reads back out of our image is the config we put in
      await writeFile(join(dir, `ours-${n}.upd`), ours.image);
      const back = await rpiEepromConfig([join(dir, `ours-${n}.upd`)]);
      expect(back.stdout.toString(), label).toBe(text);
    }
  });

  it('matches without the image timestamp (plain --config --out) and without target-soc (no -c)', async () => {
    const text = setBootConf(readBootConf(bytes), { BOOT_ORDER: '0xf12', TFTP_FILE_TIMEOUT: '300000' });
    const conf = join(dir, 'plain.txt');
    await writeFile(conf, text);
    const out = join(dir, 'plain.bin');
    const py = await rpiEepromConfig(['--config', conf, '--out', out, imagePath]);
    expect(py.exitCode, py.stderr).toBe(0);
    const ours = buildUpdate(bytes, { config: text, timestamp: TS, stampImage: false, targetSoc: false });
    expect(Buffer.from(ours.image).equals(await readFile(out))).toBe(true);
    expect(ours.signature).toBe(await rpiEepromDigest(out, join(dir, 'plain.sig'), TS));
  });

  it('matches a timestamp-only update and the extreme timestamps 0 and 2^32-1', async () => {
    for (const ts of [0, 0xffffffff, TS]) {
      const out = join(dir, `ts-${ts}.bin`);
      const py = await rpiEepromConfig(['--timestamp', String(ts), '--out', out, imagePath]);
      expect(py.exitCode, py.stderr).toBe(0);
      const ours = setTimestamp(parseImage(bytes), ts);
      expect(Buffer.from(ours.bytes).equals(await readFile(out)), String(ts)).toBe(true);
    }
    expect(() => setTimestamp(parseImage(bytes), 2 ** 32)).toThrow(EepromError);
    expect(() => setTimestamp(parseImage(bytes), -1)).toThrow(/INVALID_TIMESTAMP|timestamp/);
  });

  it('round trip: read → write the same config → identical image; read → write → read', async () => {
    const image = parseImage(bytes);
    const same = replaceBootConf(image, readImageFile(image, 'bootconf.txt'));
    expect(Buffer.from(same.bytes).equals(Buffer.from(bytes))).toBe(true);
    const changed = replaceBootConf(image, '[all]\nBOOT_ORDER=0xf21\n');
    expect(readBootConf(changed)).toBe('[all]\nBOOT_ORDER=0xf21\n');
    const restored = replaceBootConf(changed, readBootConf(image));
    expect(Buffer.from(restored.bytes).equals(Buffer.from(bytes))).toBe(true);
    expect(restored.sections).toEqual(image.sections);
  });

  it('refuses a 4077-byte config like the official tool does', async () => {
    const text = await readFile(join(fixtures, 'bootconf-4077.txt'), 'utf8');
    const conf = join(dir, 'too-big.txt');
    await writeFile(conf, text);
    const py = await rpiEepromConfig(['--config', conf, '--out', join(dir, 'x.bin'), imagePath]);
    expect(py.exitCode).not.toBe(0);
    expect(() => buildUpdate(bytes, { config: text, unknownKeys: 'pass' })).toThrow(
      expect.objectContaining({ code: 'CONFIG_TOO_LARGE' }),
    );
    expect(() => replaceBootConf(parseImage(bytes), new Uint8Array(4077))).toThrow(
      expect.objectContaining({ code: 'CONFIG_TOO_LARGE' }),
    );
  });
});
