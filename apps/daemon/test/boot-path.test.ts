import { familyFromFirstFile, parseTftpPath } from '@bramble/pi';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../src/metrics.js';
import { listenFds } from '../src/systemd.js';

describe('boot paths (@bramble/pi, as the daemon reads them), metrics, LISTEN_FDS', () => {
  it('reads the node prefix and model family from TFTP paths', () => {
    expect(parseTftpPath('/7A1B2C3D/start4.elf')).toEqual({
      prefix: { kind: 'serial', serial: '7a1b2c3d' },
      rest: 'start4.elf',
    });
    expect(parseTftpPath('dc-a6-32-01-36-c2/config.txt').prefix).toEqual({
      kind: 'mac',
      mac: 'dc:a6:32:01:36:c2',
    });
    expect(parseTftpPath('bootcode.bin')).toEqual({ rest: 'bootcode.bin' });
    expect(parseTftpPath('overlays/x.dtbo').prefix).toBeUndefined();
    expect(familyFromFirstFile('start.elf')).toBe('pi3');
    expect(familyFromFirstFile('start4.elf')).toBe('pi4');
    expect(familyFromFirstFile('config.txt')).toBe('pi5');
  });

  it('renders Prometheus text with HELP/TYPE and per-node samples', () => {
    const m = new Metrics();
    m.transfers.complete = 3;
    m.bytes = 1234;
    const text = m.render(
      [{ hostname: 'rpi-a', files: 2, bytes: 99 }],
      [{ node: 'rpi-a', lastBootAt: 1_700_000_000_000 }],
    );
    expect(text).toContain('# TYPE bramble_tftp_bytes_total counter');
    expect(text).toMatch(/^bramble_tftp_transfers_total\{result="complete"\} 3$/m);
    expect(text).toMatch(/^bramble_node_last_boot_timestamp_seconds\{node="rpi-a"\} 1700000000$/m);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('honours LISTEN_PID and LISTEN_FDNAMES (sd_listen_fds semantics)', () => {
    expect(listenFds({ LISTEN_FDS: '2', LISTEN_PID: '42', LISTEN_FDNAMES: 'tftp:dhcp' }, 42)).toEqual([
      { fd: 3, name: 'tftp' },
      { fd: 4, name: 'dhcp' },
    ]);
    expect(listenFds({ LISTEN_FDS: '1', LISTEN_PID: '41' }, 42)).toEqual([]);
    expect(listenFds({}, 42)).toEqual([]);
  });
});
