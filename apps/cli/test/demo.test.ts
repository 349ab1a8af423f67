import { isRoot, requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { bin, bramble } from './helpers.js';

interface DemoJson {
  reports: { hostname: string; model: string; verdict: string; files: unknown[] }[];
  exports: string;
  dhcp: string;
}

describe('bramble demo', () => {
  it('boots four virtual Pis (Pi 3B+, 4, 400, 5) that would boot, and prints the table', async () => {
    const r = await bramble(['demo']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const out = String(r.stdout);
    expect(out).toMatch(/NODE\s+MODEL\s+FILES\s+BYTES\s+TIME\s+VERDICT/);
    for (const [node, model] of [
      ['rpi-k8s-01', 'pi3b\\+'],
      ['rpi-k8s-02', 'pi4'],
      ['rpi-k8s-03', 'pi400'],
      ['rpi-k8s-04', 'pi5'],
    ])
      expect(out).toMatch(new RegExp(`${node}\\s+${model}\\s+\\d+\\s+.*would boot`));
    expect(out).toContain('no_root_squash');
    expect(out).toContain('Raspberry Pi Boot');
    expect(String(r.stderr)).toContain('no DHCP on loopback without root');
  });

  it.runIf(isRoot())('works as an unprivileged user too (--json)', async () => {
    const setpriv = requireTool('setpriv');
    const r = await execa(
      setpriv,
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        '--inh-caps=-all',
        'env',
        'HOME=/tmp',
        'node',
        bin,
        'demo',
        '--json',
      ],
      { reject: false, timeout: 120_000, cwd: '/tmp' },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as DemoJson;
    expect(d.reports.map((x) => [x.hostname, x.verdict])).toEqual([
      ['rpi-k8s-01', 'would boot'],
      ['rpi-k8s-02', 'would boot'],
      ['rpi-k8s-03', 'would boot'],
      ['rpi-k8s-04', 'would boot'],
    ]);
  });
});
