/** bramble.yaml is read with a size bound: a huge file, or a device that never ends, is refused. */
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  loadManifest,
  MAX_MANIFEST_BYTES,
  ManifestError,
  ManifestTooLargeError,
  parseManifestText,
  readManifestText,
} from '../src/index.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempFile(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bramble-manifest-'));
  dirs.push(dir);
  return join(dir, name);
}

async function refusal(promise: Promise<unknown>): Promise<ManifestTooLargeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ManifestTooLargeError);
  return error as ManifestTooLargeError;
}

describe('manifest size limit', () => {
  it('is 1 MiB', () => {
    expect(MAX_MANIFEST_BYTES).toBe(1024 * 1024);
  });

  it('refuses a 150 MB manifest with a typed error naming the file and the limit', async () => {
    const file = await tempFile('bramble.yaml');
    await writeFile(file, 'server: { address: 10.0.0.1 }\n# ');
    await truncate(file, 150 * 1000 * 1000); // sparse: no 150 MB written
    const error = await refusal(loadManifest(file));
    expect(error.code).toBe('MANIFEST_TOO_LARGE');
    expect(error.file).toBe(file);
    expect(error.limitBytes).toBe(MAX_MANIFEST_BYTES);
    expect(error).toBeInstanceOf(ManifestError);
    expect(error.message).toBe(
      `${file}: 1 problem:\n  larger than the 1048576-byte manifest limit; a bramble.yaml is a few KiB`,
    );
  });

  it('accepts a manifest of exactly the limit and refuses one byte more', async () => {
    const file = await tempFile('edge.yaml');
    const head = 'server: { address: 10.0.0.1 }\n#';
    await writeFile(file, `${head}${'x'.repeat(MAX_MANIFEST_BYTES - head.length)}`);
    expect((await loadManifest(file)).manifest.server.address).toBe('10.0.0.1');
    await writeFile(file, `${head}${'x'.repeat(MAX_MANIFEST_BYTES - head.length + 1)}`);
    expect((await refusal(loadManifest(file))).code).toBe('MANIFEST_TOO_LARGE');
  });

  it('stops reading an endless device at the limit', async () => {
    expect((await refusal(readManifestText('/dev/zero'))).file).toBe('/dev/zero');
  });

  it('refuses over-long text given directly', () => {
    expect(() => parseManifestText(`# ${'x'.repeat(MAX_MANIFEST_BYTES)}`, 'inline.yaml')).toThrow(
      ManifestTooLargeError,
    );
  });

  it('reports a missing file as an invalid manifest, not a crash', async () => {
    const file = await tempFile('missing.yaml');
    await expect(loadManifest(file)).rejects.toMatchObject({ code: 'INVALID_MANIFEST', file });
  });
});
