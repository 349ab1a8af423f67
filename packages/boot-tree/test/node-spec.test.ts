import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { macDirName, normaliseMac, normaliseSerial, PiError, tftpDirName } from '@bramble/pi';
import { describe, expect, it } from 'vitest';
import { detectRelease, NodeSpec, parseNodeSpec } from '../src/index.js';

describe('serials and MACs', () => {
  it('normalises the serial forms people copy from /proc/cpuinfo and labels', () => {
    expect(normaliseSerial('d9780558')).toBe('d9780558');
    expect(normaliseSerial('D9780558')).toBe('d9780558');
    expect(normaliseSerial('0xD9780558')).toBe('d9780558');
    expect(normaliseSerial('10000000d9780558')).toBe('d9780558');
    expect(normaliseSerial('00000000 0660cd37'.replace(' ', ''))).toBe('0660cd37');
    expect(normaliseSerial(' 0660CD37\n')).toBe('0660cd37');
    // The firmware takes the last 8 of the 16 digits whatever the first 8 are (a Pi 5's are its own);
    // boot-tree used to reject this one while virtual-pi accepted it: the firmware's rule won.
    expect(normaliseSerial('20000000d9780558')).toBe('d9780558');
  });
  it('rejects anything else with INVALID_SERIAL', () => {
    for (const bad of ['', 'd978055', 'd97805589', 'g9780558', '20000000d978055', '0x', 'd9780558/']) {
      expect(() => normaliseSerial(bad), bad).toThrowError(
        expect.objectContaining({ code: 'INVALID_SERIAL' }),
      );
    }
  });
  it('normalises MACs and makes dash directory names', () => {
    expect(normaliseMac('DC:A6:32:01:36:C2')).toBe('dc:a6:32:01:36:c2');
    expect(normaliseMac('dc-a6-32-01-36-c2')).toBe('dc:a6:32:01:36:c2');
    expect(normaliseMac('dca6320136c2')).toBe('dc:a6:32:01:36:c2');
    expect(normaliseMac('dca6.3201.36c2')).toBe('dc:a6:32:01:36:c2');
    expect(macDirName('DC:A6:32:01:36:C2')).toBe('dc-a6-32-01-36-c2');
    for (const bad of ['dc:a6:32:01:36', 'dc:a6:32:01:36:c2:00', 'zz:a6:32:01:36:c2', 'dc:a6-32:01:36:c2x']) {
      expect(() => normaliseMac(bad), bad).toThrowError(PiError);
    }
  });
});

describe('NodeSpec', () => {
  it('parses and normalises a node', () => {
    const n = NodeSpec.parse({
      hostname: 'node1',
      serial: '10000000D9780558',
      mac: 'DC-A6-32-01-36-C2',
      image: 'bookworm-lite',
    });
    expect(n.serial).toBe('d9780558');
    expect(n.mac).toBe('dc:a6:32:01:36:c2');
    expect(tftpDirName(n)).toBe('d9780558');
    expect(tftpDirName({ ...n, tftpPrefix: 'mac' })).toBe('dc-a6-32-01-36-c2');
    expect(tftpDirName(NodeSpec.parse({ hostname: 'n2', mac: 'b8:27:eb:00:00:01', image: 'x' }))).toBe(
      'b8-27-eb-00-00-01',
    );
  });
  it('reports every problem as INVALID_SPEC', () => {
    const bad: unknown[] = [
      { hostname: 'Node_1', serial: 'd9780558', image: 'x' },
      { hostname: 'n', image: 'x' },
      { hostname: 'n', serial: 'nope', image: 'x' },
      { hostname: 'n', serial: 'd9780558', image: '../x' },
      { hostname: 'n', serial: 'd9780558', image: 'x', address: '10.0.0.256' },
      { hostname: 'n', serial: 'd9780558', image: 'x', user: 'root', password: 'pw' },
      { hostname: 'n', serial: 'd9780558', image: 'x', password: 'pw' },
      { hostname: 'n', serial: 'd9780558', image: 'x', user: 'u', passwordHash: 'plain' },
      { hostname: 'n', serial: 'd9780558', image: 'x', nfsVersion: '5' },
      { hostname: 'n', serial: 'd9780558', image: 'x', sshKeys: ['not a key'] },
      { hostname: 'n', serial: 'd9780558', image: 'x', unknownField: 1 },
      { hostname: 'n', serial: 'd9780558', image: 'x', tftpPrefix: 'mac' },
      'not an object',
      null,
    ];
    for (const b of bad) {
      expect(() => parseNodeSpec(b), JSON.stringify(b)).toThrowError(
        expect.objectContaining({ code: 'INVALID_SPEC' }),
      );
    }
  });
});

describe('detectRelease', () => {
  const expected: Record<string, [string, string, string, boolean, boolean]> = {
    stretch: ['stretch', '/boot', '4.1', false, false],
    buster: ['buster', '/boot', '4.1', false, false],
    bullseye: ['bullseye', '/boot', '4.1', false, false],
    bookworm: ['bookworm', '/boot/firmware', '3', true, false],
    trixie: ['trixie', '/boot/firmware', '3', true, true],
  };
  for (const [rel, [codename, bootMount, nfs, initramfs, cloud]] of Object.entries(expected)) {
    it(`${rel}: ${bootMount}, NFS ${nfs}`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'bt-rel-'));
      try {
        await mkdir(join(dir, 'etc'));
        await writeFile(
          join(dir, 'etc/os-release'),
          readFileSync(join(import.meta.dirname, 'fixtures', rel, 'os-release')),
        );
        const r = await detectRelease(dir);
        expect(r).toMatchObject({
          codename,
          bootMount,
          defaultNfsVersion: nfs,
          usesInitramfs: initramfs,
          usesCloudInit: cloud,
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
  it('fails with NOT_FOUND / UNKNOWN_RELEASE on a tree that is not an OS root', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bt-rel-'));
    try {
      await expect(detectRelease(dir)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await mkdir(join(dir, 'etc'));
      await writeFile(join(dir, 'etc/os-release'), 'NAME=Something\nID=thing\n');
      await expect(detectRelease(dir)).rejects.toMatchObject({ code: 'UNKNOWN_RELEASE' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
