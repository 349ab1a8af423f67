import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildUpdate,
  EepromError,
  parseImage,
  readBootConf,
  readEepromImage,
  replaceBootConf,
  setTimestamp,
} from '../src/index.js';
import { IMAGES, rpiEepromConfig, tempDir, unpack } from './oracle.js';

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (e instanceof EepromError) return e.code;
    throw e;
  }
  return 'OK';
};

describe('hostile images give typed errors, never a crash or a hang', () => {
  let dir: string;
  let pi4: Uint8Array;
  let pi5: Uint8Array;
  beforeAll(async () => {
    dir = await tempDir('hostile');
    pi4 = await readFile(await unpack(dir, IMAGES['2711']));
    pi5 = await readFile(await unpack(dir, IMAGES['2712']));
  });

  it('truncated or padded files: BAD_SIZE, checked before reading the file', async () => {
    expect(codeOf(() => parseImage(pi4.subarray(0, 100_000)))).toBe('BAD_SIZE');
    expect(codeOf(() => parseImage(new Uint8Array(0)))).toBe('BAD_SIZE');
    expect(codeOf(() => parseImage(new Uint8Array(512 * 1024 + 1)))).toBe('BAD_SIZE');
    const path = join(dir, 'truncated.bin');
    await writeFile(path, pi5);
    await truncate(path, 2 * 1024 * 1024 - 4096);
    await expect(readEepromImage(path)).rejects.toMatchObject({ code: 'BAD_SIZE' });
    // a sparse 8 GiB file is refused from its size alone (nothing is read)
    const huge = join(dir, 'huge.bin');
    await writeFile(huge, '');
    await truncate(huge, 8 * 1024 ** 3);
    await expect(readEepromImage(huge)).rejects.toMatchObject({ code: 'BAD_SIZE' });
    await expect(readEepromImage(join(dir, 'missing.bin'))).rejects.toMatchObject({ code: 'IO' });
  });

  it('bad magic: BAD_MAGIC, and the official tool refuses the same image', async () => {
    const bad = new Uint8Array(pi4);
    new DataView(bad.buffer).setUint32(73128, 0x12345678); // the padding section after bootcode
    expect(codeOf(() => parseImage(bad))).toBe('BAD_MAGIC');
    const path = join(dir, 'bad-magic.bin');
    await writeFile(path, bad);
    const py = await rpiEepromConfig([path]);
    expect(py.exitCode).not.toBe(0);
    expect(py.stderr).toContain('EEPROM is corrupted');
  });

  it('section lengths pointing out of the file: SECTION_OUT_OF_RANGE', () => {
    const bad = new Uint8Array(pi5);
    new DataView(bad.buffer).setUint32(667648 + 4, 0xfffffff0); // bootconf.txt's length
    expect(codeOf(() => parseImage(bad))).toBe('SECTION_OUT_OF_RANGE');
    const short = new Uint8Array(pi5);
    new DataView(short.buffer).setUint32(667648 + 4, 3); // shorter than the file-name header
    expect(codeOf(() => parseImage(short))).toBe('SECTION_OUT_OF_RANGE');
  });

  it('no bootconf.txt, an erased image and a non-UTF-8 file name', () => {
    const renamed = new Uint8Array(pi4);
    renamed.set(new TextEncoder().encode('bootconf.txx'), 471040 + 8);
    expect(codeOf(() => readBootConf(renamed))).toBe('FILE_NOT_FOUND');
    expect(codeOf(() => replaceBootConf(parseImage(renamed), '[all]\n'))).toBe('FILE_NOT_FOUND');
    const erased = new Uint8Array(512 * 1024).fill(0xff);
    expect(parseImage(erased).sections).toEqual([]);
    expect(codeOf(() => readBootConf(erased))).toBe('FILE_NOT_FOUND');
    expect(codeOf(() => buildUpdate(erased, { config: '[all]\n', timestamp: 1 }))).toBe('FILE_NOT_FOUND');
    const badName = new Uint8Array(pi4);
    badName.set([0xc3, 0x28], 471040 + 8);
    expect(codeOf(() => parseImage(badName))).toBe('BAD_FILENAME');
  });

  it('oversize config: CONFIG_TOO_LARGE; a config that does not fit its section: NO_SPACE', () => {
    expect(codeOf(() => replaceBootConf(parseImage(pi4), 'A'.repeat(5000)))).toBe('CONFIG_TOO_LARGE');
    // Pi 5: move the next non-padding section right behind bootconf.txt so a bigger file cannot fit
    const tight = new Uint8Array(pi5);
    const dv = new DataView(tight.buffer);
    dv.setUint32(667736, 0x55aaf44f); // the padding after bootconf.txt becomes a real section
    expect(codeOf(() => replaceBootConf(parseImage(tight), `[all]\n${'#'.repeat(200)}\n`))).toBe('NO_SPACE');
  });

  it('random corruption of real images never throws anything but EepromError, and ends quickly', () => {
    const started = Date.now();
    fc.assert(
      fc.property(
        fc.constantFrom('2711', '2712'),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 16 }),
        (chip, edits) => {
          const bytes = new Uint8Array(chip === '2711' ? pi4 : pi5);
          // aim most edits at section headers, where the walk can go wrong
          const image = parseImage(bytes);
          for (const [where, value] of edits) {
            const section = image.sections[where % image.sections.length]!;
            bytes[section.offset + (where % 24)] = value;
          }
          const code = codeOf(() => {
            const parsed = parseImage(bytes);
            readBootConf(parsed);
            setTimestamp(parsed, 1_700_000_000);
            replaceBootConf(parsed, '[all]\nBOOT_ORDER=0xf21\n');
          });
          expect(typeof code).toBe('string');
        },
      ),
      { numRuns: 300 },
    );
    expect(Date.now() - started).toBeLessThan(60_000);
  });
});
