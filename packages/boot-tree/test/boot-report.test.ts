import { lstat, mkdtemp, readFile, readlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BOOT_REPORT_SCRIPT, BootTreeError, bootReportUnit, installBootReport } from '../src/index.js';

describe('boot report unit ("userspace up")', () => {
  it('installs the script and the unit, enabled for multi-user.target; a re-run changes nothing', async () => {
    const root = await mkdtemp(join(tmpdir(), 'bt-report-'));
    const changed = await installBootReport(root, 'http://192.168.1.10:9469/boot/up');
    expect(changed).toEqual([
      BOOT_REPORT_SCRIPT,
      '/etc/systemd/system/bramble-boot-report.service',
      '/etc/systemd/system/multi-user.target.wants/bramble-boot-report.service',
    ]);
    const unit = await readFile(join(root, 'etc/systemd/system/bramble-boot-report.service'), 'utf8');
    expect(unit).toContain(`ExecStart=${BOOT_REPORT_SCRIPT} http://192.168.1.10:9469/boot/up`);
    expect(unit).toContain('After=multi-user.target');
    expect(unit).toContain('WantedBy=multi-user.target');
    expect(
      await readlink(join(root, 'etc/systemd/system/multi-user.target.wants/bramble-boot-report.service')),
    ).toBe('/etc/systemd/system/bramble-boot-report.service');
    expect((await lstat(join(root, BOOT_REPORT_SCRIPT))).mode & 0o777).toBe(0o755);
    expect(await installBootReport(root, 'http://192.168.1.10:9469/boot/up')).toEqual([]);
  });

  it('refuses a URL that would need quoting in the unit', () => {
    expect(() => bootReportUnit('http://x/boot/up; rm -rf /')).toThrow(BootTreeError);
    expect(() => bootReportUnit('https://x/boot/up')).toThrow(/plain http/);
  });

  it('the script posts the device-tree serial with curl (busybox sh runs it)', async () => {
    const sh = requireTool('busybox');
    requireTool('curl');
    const root = await mkdtemp(join(tmpdir(), 'bt-report-run-'));
    await installBootReport(root, 'http://127.0.0.1:1/boot/up');
    const serialFile = join(root, 'serial-number');
    await writeFile(serialFile, Buffer.from('100000009ffefdef\0'));
    const bodies: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        bodies.push(`${req.method} ${req.url} ${body}`);
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/boot/up`;
      const r = await execa(sh, ['sh', join(root, BOOT_REPORT_SCRIPT), url, serialFile], { timeout: 30_000 });
      expect(r.exitCode).toBe(0);
      expect(bodies).toEqual(['POST /boot/up serial=100000009ffefdef']);
    } finally {
      server.close();
    }
  }, 60_000);
});
