import { readFile } from 'node:fs/promises';
import { parseNodeSpec } from '@bramble/boot-tree';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BootConfSettings,
  bootConfProblems,
  checkModelChip,
  checkTftpPrefix,
  effectiveSettings,
  parseSetting,
  readBootConf,
  setBootConf,
  tftpPrefixSettings,
  validateBootConf,
} from '../src/index.js';
import { IMAGES, tempDir, unpack } from './oracle.js';

describe('bootconf.txt validation against the documented keys', () => {
  let shipped: string[];
  beforeAll(async () => {
    const dir = await tempDir('conf');
    shipped = await Promise.all(
      Object.values(IMAGES).map(async (name) => readBootConf(await readFile(await unpack(dir, name)))),
    );
  });

  it('accepts the configs the real images ship with and a typical netboot config', () => {
    for (const text of shipped) expect(bootConfProblems(text)).toEqual([]);
    expect(
      bootConfProblems(
        '# fleet\n[all]\nBOOT_ORDER=0xf21\nTFTP_PREFIX=2\nTFTP_IP=\nDHCP_TIMEOUT=45000\nNET_BOOT_MAX_RETRIES=-1\n[gpio7=0]\nNETCONSOLE=6665@169.254.1.1/,6666@/\n[config.txt]\nanything goes = here\n',
      ),
    ).toEqual([]);
  });

  it('lists every bad value with its line', () => {
    const problems = bootConfProblems(
      '[all]\nBOOT_ORDER=0xf9\nDHCP_TIMEOUT=100\nTFTP_IP=300.1.1.1\nTFTP_PREFIX_STR=0123456789012345678901234567890123/\nTFTP_PREFIX=3\nENABLE_SELF_UPDATE=yes\nnot a setting\n',
    );
    expect(problems).toHaveLength(7);
    expect(problems[0]).toMatch(/^line 2: BOOT_ORDER=0xf9: boot-mode digits/);
    expect(problems[1]).toMatch(/^line 3: .*5000/);
    expect(problems[6]).toMatch(/^line 8: 'not a setting' is not KEY=VALUE/);
    expect(() => validateBootConf('BOOT_ORDER=0xf9\n')).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    );
  });

  it('refuses unknown keys unless they are passed through explicitly; never spaces around =', () => {
    expect(bootConfProblems('[all]\nMY_KEY=1\n')[0]).toMatch(/MY_KEY is not a documented/);
    expect(bootConfProblems('[all]\nMY_KEY=1\n', { unknownKeys: 'pass' })).toEqual([]);
    expect(bootConfProblems('BOOT_ORDER = 0xf21\n')[0]).toMatch(/no spaces/);
    expect(() => parseSetting('MY_KEY=1')).toThrow(/not a documented/);
    expect(parseSetting('MY_KEY=1', { unknownKeys: 'pass' })).toEqual(['MY_KEY', '1']);
    expect(parseSetting('TFTP_IP=10.0.0.1')).toEqual(['TFTP_IP', '10.0.0.1']);
    expect(() => parseSetting('BOOT_ORDER')).toThrow(/KEY=VALUE/);
  });

  it('arbitrary text never throws anything but a typed error', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 5000, unit: 'binary' }),
        fc.string({ maxLength: 40 }),
        (text, value) => {
          try {
            bootConfProblems(text, { unknownKeys: 'pass' });
            setBootConf(text, { BOOT_ORDER: value.replace(/[\r\n]/g, '') });
            effectiveSettings(text);
          } catch (e) {
            expect(e).toMatchObject({ code: expect.stringMatching(/^(CONFIG_TOO_LARGE|INVALID_CONFIG)$/) });
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the zod schema is strict about values and keys', () => {
    expect(BootConfSettings.safeParse({ BOOT_ORDER: '0xf21', TFTP_PREFIX: '2' }).success).toBe(true);
    expect(BootConfSettings.safeParse({ TFTP_PREFIX: '7' }).success).toBe(false);
    expect(BootConfSettings.strict().safeParse({ NOPE: '1' }).success).toBe(false);
  });

  it('setBootConf replaces, appends, removes and keeps filters and comments', () => {
    const text =
      '# mine\n[all]\nBOOT_UART=0\nBOOT_ORDER=0xf41\nBOOT_ORDER=0xf14\n\n[gpio7=0]\nBOOT_ORDER=0xf1\n';
    expect(setBootConf(text, { BOOT_ORDER: '0xf21', TFTP_PREFIX: '2', BOOT_UART: null })).toBe(
      '# mine\n[all]\nBOOT_ORDER=0xf21\nTFTP_PREFIX=2\n\n[gpio7=0]\nBOOT_ORDER=0xf1\n',
    );
    expect(setBootConf('', { BOOT_ORDER: '0xf2' })).toBe('[all]\nBOOT_ORDER=0xf2\n');
    expect(setBootConf('[none]\nFREEZE_VERSION=0\n', { TFTP_PREFIX: '0' })).toBe(
      'TFTP_PREFIX=0\n[none]\nFREEZE_VERSION=0\n',
    );
    expect(effectiveSettings('[all]\nA=1\n[none]\nA=2\n[all]\nB=3\nA=4\n')).toEqual({ A: '4', B: '3' });
    expect(() => setBootConf('[all]\n', { BOOT_UART: '0'.repeat(5000) })).toThrow(
      expect.objectContaining({ code: 'CONFIG_TOO_LARGE' }),
    );
  });
});

describe("Bramble's TFTP directory scheme and models", () => {
  const bySerial = parseNodeSpec({ hostname: 'n1', serial: '10000000D9780558', image: 'x', model: 'pi4' });
  const byMac = parseNodeSpec({ hostname: 'n2', mac: 'DC-A6-32-01-36-C2', image: 'x', model: 'pi5' });
  const macChosen = parseNodeSpec({
    hostname: 'n3',
    serial: 'd9780559',
    mac: 'dc:a6:32:01:36:c3',
    tftpPrefix: 'mac',
    image: 'x',
  });

  it('TFTP_PREFIX follows how boot-tree names the node directory', () => {
    expect(tftpPrefixSettings(bySerial)).toEqual({ TFTP_PREFIX: '0' });
    expect(tftpPrefixSettings(byMac)).toEqual({ TFTP_PREFIX: '2' });
    expect(tftpPrefixSettings(macChosen)).toEqual({ TFTP_PREFIX: '2' });
  });

  it('checkTftpPrefix accepts configs that lead to the directory and explains the others', () => {
    expect(() => checkTftpPrefix('[all]\nBOOT_ORDER=0xf21\n', bySerial)).not.toThrow(); // default 0
    expect(() => checkTftpPrefix('[all]\nTFTP_PREFIX=2\n', byMac)).not.toThrow();
    expect(() =>
      checkTftpPrefix('[all]\nTFTP_PREFIX=1\nTFTP_PREFIX_STR=d9780558/\n', bySerial),
    ).not.toThrow();
    expect(() => checkTftpPrefix('[all]\nTFTP_PREFIX=1\nTFTP_PREFIX_STR=d9780558\n', bySerial)).toThrow(
      /TFTP_PREFIX_STR=d9780558\//,
    );
    expect(() => checkTftpPrefix('[all]\n', byMac)).toThrow(
      expect.objectContaining({
        code: 'PREFIX_MISMATCH',
        message: expect.stringMatching(/set TFTP_PREFIX=2/),
      }),
    );
    expect(() => checkTftpPrefix('[all]\nTFTP_PREFIX=0\n', macChosen)).toThrow(/dc-a6-32-01-36-c3\//);
    // a conditional section does not count: every board must get there
    expect(() => checkTftpPrefix('[all]\n[gpio7=0]\nTFTP_PREFIX=2\n', byMac)).toThrow(/PREFIX|TFTP_PREFIX=0/);
  });

  it('a Pi 4 image only goes to Pi 4 family nodes, a Pi 5 image to Pi 5 family, never to a Pi 3', () => {
    expect(() => checkModelChip('pi400', '2711')).not.toThrow();
    expect(() => checkModelChip('cm5', '2712')).not.toThrow();
    expect(() => checkModelChip(undefined, '2712')).not.toThrow();
    expect(() => checkModelChip('pi5', '2711')).toThrow(expect.objectContaining({ code: 'MODEL_MISMATCH' }));
    expect(() => checkModelChip('pi3b+', '2711')).toThrow(/no bootloader EEPROM/);
  });
});
