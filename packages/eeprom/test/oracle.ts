/**
 * The official tools as test oracles: rpi-eeprom-config (Python) and rpi-eeprom-digest (sh), from
 * raspberrypi/rpi-eeprom HEAD 86759b0 (BSD-3-Clause, LICENSE beside them), and the real Pi 4 / Pi 5
 * bootloader images they operate on (stored gzipped).
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';

export const fixtures = join(import.meta.dirname, 'fixtures', 'rpi-eeprom');
export const configTool = join(fixtures, 'rpi-eeprom-config');
export const digestTool = join(fixtures, 'rpi-eeprom-digest');

export const IMAGES = {
  '2711': 'pieeprom-2711-2026-08-04.bin',
  '2712': 'pieeprom-2712-2026-06-29.bin',
} as const;

export async function tempDir(tag: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `bramble-eeprom-${tag}-`));
}

/** A fixture, decompressed into `dir`; returns its path. */
export async function unpack(dir: string, name: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, gunzipSync(await readFile(join(fixtures, `${name}.gz`))));
  return path;
}

export interface OracleResult {
  exitCode: number | undefined;
  stdout: Buffer;
  stderr: string;
}

export async function rpiEepromConfig(args: readonly string[]): Promise<OracleResult> {
  const r = await execa('python3', [configTool, ...args], {
    reject: false,
    encoding: 'buffer',
    stripFinalNewline: false,
    timeout: 60_000,
  });
  return { exitCode: r.exitCode, stdout: Buffer.from(r.stdout), stderr: Buffer.from(r.stderr).toString() };
}

/** pieeprom.sig as rpi-eeprom-update makes it: `rpi-eeprom-digest -c CHIP -i IMG -o SIG`, ts pinned. */
export async function rpiEepromDigest(image: string, sig: string, ts: number, chip?: string) {
  await execa('sh', [digestTool, ...(chip ? ['-c', chip] : []), '-i', image, '-o', sig], {
    env: { SOURCE_DATE_EPOCH: String(ts) },
    timeout: 60_000,
  });
  return readFile(sig, 'utf8');
}
